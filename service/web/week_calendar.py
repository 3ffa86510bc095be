"""The week calendar of rooms and therapists: who is where, and the free time in clinic hours.

``GET /web/calendar?week=2027-W10&by=room|therapist`` (coordinators). The sessions are read
through ``GET /sessions?start=&end=`` (``invoke``), the group names from the directory view the
call has just made fresh; nothing here decides what is booked. Times are shown in the clinic's
zone (``CLINIC_TIMEZONE``), the free time is ``service.web.slots.free_slots`` within the clinic
hours.

Settings (read when the app is made; a bad value stops it with the setting's name):

- ``CLINIC_HOURS`` (env ``CIRCLES_CLINIC_HOURS``, default ``08:00-20:00``): the daily hours,
  in the clinic's zone, within which free time is shown.
- ``CLINIC_ROOMS`` (env ``CIRCLES_CLINIC_ROOMS``, comma-separated room ids, default none):
  rooms shown even in a week nobody books them (rooms are otherwise known from their sessions).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response as BaseResponse

from service.context import services
from service.endpoint import COORDINATOR
from service.routes import views as view_routes
from service.web.pages import FormProblem, accounts, now, page, render
from service.web.shared import all_pages
from service.web.slots import ClinicHours, free_slots

bp = Blueprint("web_calendar", __name__, template_folder="templates")

BY = {"room": "Rooms", "therapist": "Therapists"}
_WEEK = re.compile(r"^([0-9]{4})-W([0-9]{2})$")
# Session times lie from 2000 to 2099 (SPEC §5), so do the weeks a calendar shows.
FIRST_YEAR, LAST_YEAR = 2000, 2099
# A gap shorter than this between two sessions is not somewhere a group fits.
SHORTEST_FREE = timedelta(minutes=30)
ONLINE = ""  # the column of sessions without a room


@bp.record_once
def _settings(state: BlueprintSetupState) -> None:
    config = state.app.config
    config.setdefault(
        "CLINIC_HOURS", os.environ.get("CIRCLES_CLINIC_HOURS", "08:00-20:00") or "08:00-20:00"
    )
    config.setdefault("CLINIC_ROOMS", os.environ.get("CIRCLES_CLINIC_ROOMS", ""))
    try:
        ClinicHours.parse(config["CLINIC_HOURS"])
    except ValueError as error:
        raise RuntimeError(f"CIRCLES_CLINIC_HOURS: {error}") from None


def _shown(text: str) -> str:
    """What was asked for, safe to repeat on a page: short, control characters replaced."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text[:40])


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> date:
    """The Monday of ISO week ``YYYY-Www``; a ValueError says why not."""
    found = _WEEK.match(text)
    if found is None:
        raise ValueError(f"“{_shown(text)}” is not a week like 2027-W10 (year, W, week number).")
    year, week = int(found.group(1)), int(found.group(2))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"Weeks from {FIRST_YEAR} to {LAST_YEAR} can be shown, not {year}.")
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError:
        last = date(year, 12, 28).isocalendar()[1]
        raise ValueError(f"{year} has weeks 01 to {last}, not {week:02d}.") from None


@dataclass
class Column:
    key: str
    label: str
    booked: bool = True  # whether it has free time (the online column has none)


@dataclass
class Cell:
    sessions: list[dict[str, Any]] = field(default_factory=list)
    free: list[str] = field(default_factory=list)


def _clock_change(day: date, zone: ZoneInfo) -> str | None:
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    before, after = start.utcoffset(), end.utcoffset()
    if before is None or after is None or before == after:
        return None
    way = "forward" if after > before else "back"
    return f"Clocks go {way}: {start.tzname()} to {end.tzname()}"


def _problem(errors: dict[str, list[str]]) -> FormProblem:
    return FormProblem(
        title="This calendar cannot be shown",
        detail="The address asks for a week or a view this calendar does not have.",
        status=422,
        fields=errors,
    )


@bp.get("/web/calendar")
@page(roles=(COORDINATOR,))
def calendar() -> BaseResponse:
    clinic = ZoneInfo(current_app.config["CLINIC_TIMEZONE"])
    hours = ClinicHours.parse(current_app.config["CLINIC_HOURS"])
    today = now().astimezone(clinic).date()
    this_week = iso_week(today)
    by = request.args.get("by", "room")
    asked = request.args.get("week", "")
    errors: dict[str, list[str]] = {}
    if by not in BY:
        errors["by"] = [f"“{_shown(by)}” is not one of room, therapist."]
    try:
        monday = parse_week(asked) if asked else today - timedelta(days=today.weekday())
    except ValueError as error:
        errors["week"] = [str(error)]
    common: dict[str, Any] = {
        "by_options": BY,
        "this_week": this_week,
        "here": url_for("web_calendar.calendar"),
        "nav_current": "web_calendar.calendar",
    }
    if errors:
        return render("web/calendar.html", status=422, problem=_problem(errors), **common)
    start = datetime.combine(monday, time(0), clinic)
    end = datetime.combine(monday + timedelta(days=7), time(0), clinic)
    entries = all_pages(
        view_routes.all_sessions, {"start": start.isoformat(), "end": end.isoformat()}
    )
    directory = services().require_reads().projector.directory  # made fresh by the call above
    groups = {g: directory.group(g) for g in {e.group_id for e in entries}}
    links = {g: url_for("web_coord.group", group_id=g) for g in groups}
    staff = [u for u in accounts().all() if u.therapist_id]
    names = {u.therapist_id: u.name for u in staff if u.therapist_id}
    active = {u.therapist_id for u in staff if u.therapist_id and u.is_active}
    columns = _columns(by, entries, names, active, current_app.config["CLINIC_ROOMS"])
    days = [monday + timedelta(days=n) for n in range(7)]
    grid = {(d, c.key): Cell() for d in days for c in columns}
    for entry in entries:
        starts, ends = entry.starts_at.astimezone(clinic), entry.ends_at.astimezone(clinic)
        keys = (entry.room_id or ONLINE,) if by == "room" else entry.facilitator_ids
        group = groups.get(entry.group_id)
        for key in keys:
            grid[(starts.date(), key)].sessions.append(
                {
                    "entry": entry,
                    "starts": starts,
                    "ends": ends,
                    "when": f"{starts:%H:%M}–{ends:%H:%M} {starts.tzname()}",
                    "group": group.name if group else "(unknown group)",
                    "group_url": links[entry.group_id],
                    "cancelled": entry.status == "cancelled",
                    "also": ", ".join(names.get(t, t) for t in entry.facilitator_ids)
                    if by == "room"
                    else entry.room_id or "Online",
                }
            )
    for (day, _column), cell in grid.items():
        busy = [(s["starts"], s["ends"]) for s in cell.sessions if not s["cancelled"]]
        cell.free = [
            f"{a:%H:%M}–{b:%H:%M}" for a, b in free_slots(day, clinic, hours, busy, SHORTEST_FREE)
        ]
    rows = [
        {
            "day": d,
            "label": f"{d:%a %-d %b}",
            "change": _clock_change(d, clinic),
            "cells": [(c, grid[(d, c.key)]) for c in columns],
        }
        for d in days
    ]
    before, after = monday - timedelta(days=7), monday + timedelta(days=7)
    return render(
        "web/calendar.html",
        problem=None,
        by=by,
        week=iso_week(monday),
        monday=monday,
        sunday=days[-1],
        columns=columns,
        rows=rows,
        booked=len(entries),
        hours=hours.label,
        zone=clinic.key,
        shortest=int(SHORTEST_FREE.total_seconds() // 60),
        previous=iso_week(before) if before.isocalendar().year >= FIRST_YEAR else None,
        following=iso_week(after) if after.isocalendar().year <= LAST_YEAR else None,
        **common,
    )


def _columns(
    by: str, entries: list[Any], names: dict[str, str], active: set[str], rooms: str
) -> list[Column]:
    """The week's rooms (and the clinic's listed ones), or its therapists and every therapist
    with an account that is not disabled; sessions without a room get a column of their own."""
    if by == "therapist":
        ids: set[str] = {t for e in entries for t in e.facilitator_ids} | active

        def label(t: str) -> str:
            return f"{names[t]} ({t})" if t in names else t

        return [Column(t, label(t)) for t in sorted(ids, key=lambda t: (label(t).lower(), t))]
    listed = {r.strip() for r in rooms.split(",") if r.strip()}
    found = sorted({e.room_id for e in entries if e.room_id} | listed)
    columns = [Column(r, r) for r in found]
    if any(not e.room_id for e in entries):
        columns.append(Column(ONLINE, "No room (online)", booked=False))
    return columns
