"""What several pages share: times and names in words, an event's data in one line, a JSON
route's refusal as a page's, every page of a paged route, a form's messages beside its fields."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from service.endpoint import invoke
from service.web.pages import FormProblem, PageRefusal, accounts, current_user, problem_of


def time_span(start: datetime, end: datetime) -> str:
    """``18:00–19:30 EST``: local times, the zone's abbreviation at the start."""
    return f"{start:%H:%M}–{end:%H:%M} {start.tzname()}"


def session_state(session: Any, moment: datetime) -> str:
    """A session's state in words at ``moment``: Cancelled, Held, In progress or Scheduled."""
    if session.is_cancelled:
        return "Cancelled"
    if session.ends_at <= moment:
        return "Held"
    return "In progress" if session.starts_at <= moment else "Scheduled"


def therapist_names() -> dict[str, str]:
    """Therapist id -> the name of the staff account that holds it (where one does)."""
    return {u.therapist_id: u.name for u in accounts().all() if u.therapist_id}


def names_of(ids: Any, names: dict[str, str]) -> str:
    """Therapist ids as ``Ana Silva (t-ana)`` where an account holds the id."""
    return ", ".join(f"{names[t]} ({t})" if t in names else t for t in ids) or "—"


def event_words(name: str) -> str:
    """``TherapyGroup.PatientAdmitted`` -> ``Patient admitted``."""
    last = name.split(".")[-1]
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", last).lower()
    return spaced[:1].upper() + spaced[1:]


def event_details(data: dict[str, Any]) -> str:
    """An event's data in one line: each field and its value, nested ones one level down."""
    parts = []
    for key, value in data.items():
        if key == "reason" or value in (None, [], {}, ""):
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items() if not isinstance(v, dict))
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value) if len(value) <= 3 else f"{len(value)} in all"
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def page_refusal(error: Exception) -> PageRefusal:
    found = problem_of(error)
    return PageRefusal(found.status, found.title, found.detail)


def all_pages(view: Callable[..., Any], query: dict[str, Any], **path: Any) -> list[Any]:
    """All pages of a paged JSON route, followed by cursor."""
    items: list[Any] = []
    cursor = None
    while True:
        found = invoke(
            view, current_user(), query={**query, "limit": 200, "cursor": cursor}, **path
        )
        items.extend(found["items"])
        cursor = found["next_cursor"]
        if cursor is None:
            return items


def whole_number(text: str) -> int | str:
    """A whole number as the JSON route takes it; anything else is passed on for its refusal."""
    return int(text) if text.isdigit() and len(text) < 10 else text


def fields_beside(problem: FormProblem, names: list[str]) -> dict[str, list[str]]:
    """Take each field's messages out of the problem to show beside that field (a list's
    items, ``facilitator_ids.0``, beside the list); the rest stay in the summary."""
    found: dict[str, list[str]] = {}
    for key in list(problem.fields):
        target = next((n for n in names if key == n or key.startswith(n + ".")), None)
        if target is not None:
            found.setdefault(target, []).extend(problem.fields.pop(key))
    return found
