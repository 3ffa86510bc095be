"""Planning a group's sessions from a page: preview first, then save.

Preview is ``POST /groups/{id}/sessions/preview`` and Save is ``POST /groups/{id}/sessions``,
both through ``invoke`` with the same body: the dates, closures, clock changes and
collisions shown are the domain's own (``Circles.preview_plan`` runs the plan command's code
without saving). Save is offered for the plan just previewed: if the form changed since,
sending it previews again instead of saving something nobody has seen.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from domain.values import Cadence, Modality, SessionKind
from service.endpoint import COORDINATOR, invoke
from service.routes import groups as group_routes
from service.web.coordinator import MODALITY_LABELS
from service.web.forms import refusal
from service.web.pages import REFUSALS, FormProblem, current_user, notice, page, render
from service.web.shared import page_refusal, whole_number

bp = Blueprint("web_plans", __name__, template_folder="templates")

CADENCE_LABELS = {
    Cadence.WEEKLY.value: "Every week",
    Cadence.EVERY_N_WEEKS.value: "Every few weeks (give the number of weeks)",
    Cadence.MONTHLY.value: "Every month, on the same date",
    Cadence.MONTHLY_WEEKDAY.value: "Every month, on the same weekday (e.g. 2nd Tuesday)",
}
# Beside the default (regular): an intake session, or maintenance after a course.
KIND_LABELS = {k.value: k.value.capitalize() for k in SessionKind if k is not SessionKind.REGULAR}
# Each field of a plan, by its name in problem+json, and its label on the form.
PLAN_LABELS = {
    "first_date": "First date", "start_time": "Start time", "duration_minutes": "Length in minutes",
    "cadence": "How often", "interval": "Weeks between sessions", "count": "How many sessions",
    "skip_dates": "Clinic closures", "kind": "Kind of session",
}  # fmt: skip
# A course's usual length, the count the form starts with.
DEFAULT_COUNT = {Modality.IPT: 12, Modality.MIT: 12, Modality.DIT: 16, Modality.MAINTENANCE: 6}


def plan_body(form: Any) -> dict[str, Any]:
    """The body of ``POST /groups/{id}/sessions`` from the form: what was left empty is left
    out (the route's defaults apply), numbers are numbers, closures a list of dates."""

    def given(name: str) -> str:
        return str(form.get(name, "")).strip()

    body: dict[str, Any] = {}
    for name in ("first_date", "start_time", "cadence", "kind"):
        if given(name):
            body[name] = given(name)
    for name in ("duration_minutes", "count"):
        if given(name):
            body[name] = whole_number(given(name))
    if given("interval") and body.get("cadence") == Cadence.EVERY_N_WEEKS.value:
        body["interval"] = whole_number(given("interval"))
    closures = [d for d in re.split(r"[\s,;]+", given("skip_dates")) if d]
    if closures:
        body["skip_dates"] = closures
    return body


def fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]


def session_link(session_id: Any) -> str:
    """Where a page sends a coordinator to see one session: its page (which links its roster
    and attendance)."""
    return url_for("web_sessions.session", session_id=session_id)


@bp.route("/web/groups/<group_id>/plan", methods=["GET", "POST"])
@page(roles=(COORDINATOR,))
def plan(group_id: str) -> BaseResponse:
    user = current_user()
    try:
        group = invoke(group_routes.get_group, user, group_id=group_id).data
    except REFUSALS as error:
        raise page_refusal(error) from None
    sent: dict[str, str] = {
        "duration_minutes": "90",
        "cadence": "",
        "count": str(DEFAULT_COUNT[group.modality]),
    }
    problem: FormProblem | None = None
    errors: dict[str, list[str]] = {}
    preview = None
    previewed = ""
    changed = False
    if request.method == "POST":
        sent = {k: v for k, v in request.form.items() if k not in ("csrf_token", "action")}
        body = plan_body(request.form)
        plan_print = fingerprint(body)
        version = request.form.get("version", "")
        try:
            if request.form.get("action") == "save" and request.form.get("previewed") == plan_print:
                reply = invoke(
                    group_routes.plan_sessions,
                    user,
                    body=body,
                    expected_version=int(version) if version.isdigit() else None,
                    group_id=group_id,
                )
                made = reply["sessions"]
                notice(
                    f"{len(made)} sessions planned, from {made[0].starts_at:%a %-d %b %Y} to "
                    f"{made[-1].starts_at:%a %-d %b %Y}."
                )
                return redirect(url_for("web_coord.group", group_id=group_id) + "#h-sessions")
            changed = request.form.get("action") == "save"
            preview = invoke(group_routes.preview_plan, user, body=body, group_id=group_id)
            previewed = plan_print
        except REFUSALS as error:
            problem, errors = refusal(error, PLAN_LABELS)
            # The group may have changed (412): the next save goes with its version now.
            group = invoke(group_routes.get_group, user, group_id=group_id).data
    colliding = problem.extra.get("colliding_session_id") if problem else None
    return render(
        "web/plan.html",
        status=problem.status if problem else 200,
        group=group,
        sent=sent,
        errors=errors,
        problem=problem,
        colliding=session_link(colliding) if colliding else None,
        preview=preview,
        rows=_rows(preview) if preview is not None else [],
        previewed=previewed,
        changed=changed,
        cadences=CADENCE_LABELS,
        kinds=KIND_LABELS,
        maintenance=group.modality is Modality.MAINTENANCE,
        modalities=MODALITY_LABELS,
        nav_current="web_coord.groups",
    )


def _rows(preview: Any) -> list[dict[str, Any]]:
    rows = []
    previous = None
    for s in preview.sessions:
        rows.append(
            {
                "session": s,
                "date": f"{s.starts_at:%a %-d %b %Y}",
                "when": f"{s.starts_at:%H:%M}–{s.ends_at:%H:%M} {s.starts_at.tzname()}",
                "clock_change": f"{previous.tzname()} → {s.starts_at.tzname()}"
                if s.clock_change and previous is not None
                else None,
                "pushed": [f"{d:%a %-d %b}" for d in s.pushed_past],
                "collisions": [
                    {
                        "collision": c,
                        "who": f"{c.who.capitalize()} {c.resource_id}",
                        "number": c.label.split(" ")[0],
                        "when": f"{c.starts_at:%a %-d %b %H:%M}–{c.ends_at:%H:%M %Z}",
                        "link": session_link(c.session_id),
                    }
                    for c in s.collisions
                ],
            }
        )
        previous = s.starts_at
    return rows
