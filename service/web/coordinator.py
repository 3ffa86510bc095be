"""A coordinator's pages: this week across groups, the group list, and one group's page.

Every read and every change goes through a JSON route's handler (``invoke``): the week is
``GET /sessions``, the list ``GET /groups``, the group page ``GET /groups/{id}`` with its
``/enrollments``, ``/sessions`` and ``/history``, and the lifecycle buttons
``POST /groups/{id}/open|start|complete|cancel``. What needs attention is read from the same
views (directory, attendance report, invitations) with no rule of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from domain.values import GroupStatus, Modality, ProblemArea, SessionKind
from service.context import services
from service.endpoint import COORDINATOR, invoke
from service.routes import groups as group_routes
from service.routes import views as view_routes
from service.web.pages import (
    REFUSALS,
    FormProblem,
    PageRefusal,
    asked_week,
    current_user,
    notice,
    now,
    page,
    problem_of,
    render,
)
from service.web.shared import (
    all_pages,
    event_details,
    event_words,
    fields_beside,
    names_of,
    page_refusal,
    session_state,
    therapist_names,
    time_span,
    whole_number,
)

bp = Blueprint("web_coord", __name__, template_folder="templates")

MODALITY_LABELS = {
    Modality.IPT.value: "Interpersonal psychotherapy (IPT)",
    Modality.MIT.value: "Metacognitive interpersonal therapy (MIT)",
    Modality.DIT.value: "Dynamic interpersonal therapy (DIT)",
    Modality.MAINTENANCE.value: "Maintenance",
}
MODALITY_SHORT = {"ipt": "IPT", "mit": "MIT", "dit": "DIT", "maintenance": "Maintenance"}
STATUS_LABELS = {s.value: s.value.capitalize() for s in GroupStatus}
FORMAT_LABELS = {"in_person": "In person", "online": "Online", "hybrid": "Hybrid"}
WAITING_LABELS = {"seat": "a seat in this group", "next_group": "the next group"}
# The lifecycle buttons: action -> (label, what the notice says, statuses it is offered in).
ACTIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "open": ("Open for enrollment", "opened for enrollment", ("planned",)),
    "start": ("Start the course", "started", ("open",)),
    "complete": ("Complete the course", "completed", ("running",)),
    "cancel": ("Cancel the group", "cancelled", ("planned", "open", "running")),
}
PAGE_SIZE = 25
CAME = ("present", "late")  # attendance that counts as having come


# --- this week ----------------------------------------------------------------------------------


@dataclass
class Attention:
    below_minimum: list[Any] = field(default_factory=list)
    waitlists: list[Any] = field(default_factory=list)
    at_risk: list[dict[str, Any]] = field(default_factory=list)
    invitations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.below_minimum or self.waitlists or self.at_risk or self.invitations)


def _attention(names: dict[str, str]) -> Attention:
    found = Attention()
    active = [
        *all_pages(group_routes.list_groups, {"status": "open"}),
        *all_pages(group_routes.list_groups, {"status": "running"}),
    ]
    views = services().require_reads().projector  # made fresh by the calls above
    for group in active:
        if group.enrolled_count < group.min_size:
            found.below_minimum.append(group)
        if group.waitlist_count:
            found.waitlists.append(group)
        report = invoke(
            view_routes.attendance_report, current_user(), query={"group_id": str(group.group_id)}
        )
        risky = [p["patient_id"] for p in report["patients"] if p["at_risk"]]
        if risky:
            people = {
                e.patient_id: e.patient_name
                for e in views.directory.enrollments(group.group_id, limit=1000)
            }
            found.at_risk.extend(
                {"group": group, "patient_id": p, "name": people.get(p, p)} for p in risky
            )
    waiting = views.calendars.invitations_with_status(["proposed", "approved"])
    for invitation in waiting:
        summary = views.directory.group(invitation.session.group_id)
        found.invitations.append(
            {
                "invitation": invitation,
                "group": summary,
                "waiting": "a therapist's approval"
                if invitation.status == "proposed"
                else "the patient's written consent",
                "when": f"{invitation.session.starts_at:%a %-d %b} "
                + time_span(invitation.session.starts_at, invitation.session.ends_at),
            }
        )
    return found


def week_page() -> BaseResponse:
    """The coordinator's home: every group's sessions this week, and what needs attention."""
    clinic = ZoneInfo(current_app.config["CLINIC_TIMEZONE"])
    today = now().astimezone(clinic).date()
    monday, problem = asked_week(today)
    start = datetime.combine(monday, time(0), clinic)
    end = datetime.combine(monday + timedelta(days=7), time(0), clinic)
    entries = all_pages(
        view_routes.all_sessions, {"start": start.isoformat(), "end": end.isoformat()}
    )
    views = services().require_reads().projector  # made fresh by the call above
    names = therapist_names()
    groups: dict[Any, Any] = {}
    days: dict[date, list[dict[str, Any]]] = {}
    moment = now()
    for entry in entries:
        if entry.group_id not in groups:
            groups[entry.group_id] = views.directory.group(entry.group_id)
        summary = groups[entry.group_id]
        if entry.status == "cancelled":
            status = "Cancelled"
        elif entry.ends_at <= moment:
            status = "Held"
        elif entry.starts_at <= moment:
            status = "In progress"
        else:
            status = "Scheduled"
        days.setdefault(entry.starts_at.date(), []).append(
            {
                "entry": entry,
                "group": summary,
                "when": time_span(entry.starts_at, entry.ends_at),
                "place": entry.room_id or ("Online" if entry.video_url else "—"),
                "therapists": names_of(entry.facilitator_ids, names),
                "status": status,
            }
        )
    return render(
        "web/coord_week.html",
        days=sorted(days.items()),
        monday=monday,
        sunday=monday + timedelta(days=6),
        previous=(monday - timedelta(days=7)).isoformat(),
        following=(monday + timedelta(days=7)).isoformat(),
        is_current=monday <= today < monday + timedelta(days=7),
        problem=problem,
        attention=_attention(names),
        modalities=MODALITY_LABELS,
        nav_current="web_coord.week",
    )


@bp.get("/web/week")
@page(roles=(COORDINATOR,))
def week() -> BaseResponse:
    return week_page()


# --- groups -------------------------------------------------------------------------------------


@bp.get("/web/groups")
@page(roles=(COORDINATOR,))
def groups() -> BaseResponse:
    user = current_user()
    filters = {
        name: request.args.get(name, "").strip() for name in ("status", "modality", "therapist_id")
    }
    cursor = request.args.get("cursor") or None
    query: dict[str, Any] = {k: v for k, v in filters.items() if v}
    problem: FormProblem | None = None
    beside: dict[str, list[str]] = {}
    try:
        found = invoke(
            group_routes.list_groups, user, query={**query, "limit": PAGE_SIZE, "cursor": cursor}
        )
    except REFUSALS as error:
        problem = problem_of(error)
        found = {"items": [], "next_cursor": None}
        # Shown beside its field, so not again in the summary at the top.
        beside = {"therapist_id": problem.fields.pop("therapist_id", [])}
    names = therapist_names()
    return render(
        "web/coord_groups.html",
        status=problem.status if problem else 200,
        groups=found["items"],
        next_cursor=found["next_cursor"],
        paged=cursor is not None,
        filters=filters,
        filtered=bool(query),
        beside=beside,
        short_modalities=MODALITY_SHORT,
        kept=query,
        problem=problem,
        statuses=STATUS_LABELS,
        modalities=MODALITY_LABELS,
        formats=FORMAT_LABELS,
        therapists=sorted(names.items(), key=lambda t: t[1]),
    )


@bp.get("/web/groups/<group_id>")
@page(roles=(COORDINATOR,))
def group(group_id: str) -> BaseResponse:
    return _group_page(group_id)


def _group_page(
    group_id: str,
    problem: FormProblem | None = None,
    action: str | None = None,
    sent: dict[str, str] | None = None,
    reason_errors: list[str] | None = None,
) -> BaseResponse:
    user = current_user()
    try:
        shown = invoke(group_routes.get_group, user, group_id=group_id).data
        enrollments = all_pages(group_routes.group_enrollments, {}, group_id=group_id)
        sessions = all_pages(group_routes.group_sessions, {}, group_id=group_id)
        events = all_pages(group_routes.group_history, {}, group_id=group_id)
    except REFUSALS as error:
        raise page_refusal(error) from None
    names = therapist_names()
    enrolled = [e for e in enrollments if e["status"] == "enrolled"]
    waitlist = sorted(
        (e for e in enrollments if e["status"] == "waitlisted"),
        key=lambda e: e["waitlist_position"] or 0,
    )
    ended = [e for e in enrollments if e["status"] not in ("enrolled", "waitlisted")]
    status = shown.status.value
    actions = [(a, label) for a, (label, _, offered) in ACTIONS.items() if status in offered]
    moment = now()
    zone = ZoneInfo(shown.timezone)
    rows = [
        {
            "session": s,
            "date": f"{s.starts_at:%a %-d %b %Y}",
            "when": time_span(s.starts_at, s.ends_at),
            "started": s.starts_at <= moment,
            "status": session_state(s, moment),
            "came": sum(1 for a in s.attendance.values() if a.value in CAME),
            "recorded": len(s.attendance),
        }
        for s in sessions
    ]
    return render(
        "web/coord_group.html",
        status=problem.status if problem else 200,
        group=shown,
        facilitators=names_of(shown.facilitator_ids, names),
        enrolled=enrolled,
        waitlist=waitlist,
        ended=ended,
        sessions=rows,
        events=[
            {
                "what": event_words(e["type"]),
                "when": e["occurred_at"].astimezone(zone).strftime("%-d %b %Y %H:%M %Z"),
                "actor": e["actor"] or "unknown",
                "reason": e["data"].get("reason"),
                "details": event_details(e["data"]),
            }
            for e in reversed(events)
        ],
        actions=actions,
        problem=problem,
        failed_action=action,
        sent=sent or {},
        reason_errors=reason_errors or [],
        modalities=MODALITY_LABELS,
        formats=FORMAT_LABELS,
        statuses=STATUS_LABELS,
        waiting_labels=WAITING_LABELS,
        nav_current="web_coord.groups",
    )


@bp.post("/web/groups/<group_id>/<action>")
@page(roles=(COORDINATOR,))
def lifecycle(group_id: str, action: str) -> BaseResponse:
    if action not in ACTIONS:
        raise PageRefusal(404, "No such action", f"“{action[:40]}” is not something a group does.")
    view = current_app.view_functions[f"groups.{action}_group"]
    reason = request.form.get("reason", "")
    body = {"reason": reason} if action == "cancel" else {}
    version = request.form.get("version", "")
    try:
        invoke(
            view,
            current_user(),
            body=body,
            expected_version=int(version) if version.isdigit() else None,
            group_id=group_id,
        )
    except REFUSALS as error:
        found = problem_of(error)
        beside = found.fields.pop("reason", []) if action == "cancel" else []
        return _group_page(group_id, found, action, {"reason": reason}, beside)
    notice(f"The group was {ACTIONS[action][1]}.")
    return redirect(url_for("web_coord.group", group_id=group_id))


# --- create a group -----------------------------------------------------------------------------

AREA_LABELS = {a.value: a.value.replace("_", " ").capitalize() for a in ProblemArea}
FEE_FIELDS = [
    ("session_fee", "Session fee"),
    ("maintenance_fee", "Maintenance session fee"),
    ("no_show_fee", "No-show fee"),
    ("late_cancel_fee", "Late-cancel fee"),
]
KINDS = [k.value for k in SessionKind]
# Each field of POST /groups, by its name in problem+json, and its label on the form.
CREATE_LABELS = {
    "name": "Name", "modality": "Modality", "focus_area": "Focus", "format": "Format",
    "facilitator_ids": "Therapists", "room_id": "Room", "video_url": "Video link",
    "timezone": "Time zone", "max_size": "Most patients", "min_size": "Fewest patients",
    "guest_limit": "Guests per session", "admission_closes_after": "Closes to newcomers",
    "length_override_reason": "Reason to go past the course length", "currency": "Currency",
    **{f"fees.{n}": label for n, label in FEE_FIELDS},
    "fees.late_cancel_window_hours": "Late-cancel window",
    **{f"fees.billing_codes.{k}": f"Billing code, {k}" for k in KINDS},
}  # fmt: skip


def group_body(form: Any) -> dict[str, Any]:
    """The body of ``POST /groups`` from the form: what was left empty is left out (the
    route's defaults apply), numbers are numbers, facilitators a list."""

    def given(name: str) -> str:
        return str(form.get(name, "")).strip()

    body: dict[str, Any] = {}
    for name in ("name", "modality", "format", "focus_area", "room_id", "video_url", "timezone",
                 "currency", "length_override_reason"):  # fmt: skip
        if given(name):
            body[name] = given(name)
    if "currency" in body:
        body["currency"] = body["currency"].upper()
    body["facilitator_ids"] = [t for t in re.split(r"[\s,]+", given("facilitator_ids")) if t]
    for name in ("max_size", "min_size", "guest_limit", "admission_closes_after"):
        if given(name):
            body[name] = whole_number(given(name))
    if form.get("admission_never"):
        body["admission_closes_after"] = None
    fees: dict[str, Any] = {}
    for name, _ in FEE_FIELDS:
        fees[name] = given(f"fees.{name}")
    if given("fees.late_cancel_window_hours"):
        fees["late_cancel_window_hours"] = whole_number(given("fees.late_cancel_window_hours"))
    codes = {k: given(f"fees.billing_codes.{k}") for k in KINDS if given(f"fees.billing_codes.{k}")}
    if codes:
        fees["billing_codes"] = codes
    body["fees"] = fees
    return body


@bp.route("/web/groups/new", methods=["GET", "POST"])
@page(roles=(COORDINATOR,))
def create() -> BaseResponse:
    problem: FormProblem | None = None
    errors: dict[str, list[str]] = {}
    sent: dict[str, str] = {}
    if request.method == "POST":
        sent = {k: v for k, v in request.form.items() if k != "csrf_token"}
        try:
            reply = invoke(group_routes.create_group, current_user(), body=group_body(request.form))
        except REFUSALS as error:
            problem = problem_of(error)
            errors = fields_beside(problem, list(CREATE_LABELS))
            if errors and not problem.fields:
                marked = ", ".join(CREATE_LABELS[n] for n in CREATE_LABELS if n in errors)
                problem.detail = f"Nothing was saved. Correct the marked fields: {marked}."
        else:
            created = reply.data
            notice(f"The group “{created.name}” was created. Plan its sessions, then open it.")
            return redirect(url_for("web_coord.group", group_id=created.id))
    return render(
        "web/coord_create.html",
        status=problem.status if problem else 200,
        problem=problem,
        errors=errors,
        sent=sent,
        modalities=MODALITY_LABELS,
        formats=FORMAT_LABELS,
        areas=AREA_LABELS,
        fee_fields=FEE_FIELDS,
        kinds=KINDS,
        therapist_list=", ".join(
            f"{tid} ({name})" for tid, name in sorted(therapist_names().items(), key=lambda t: t[1])
        ),
        zone=current_app.config["CLINIC_TIMEZONE"],
        nav_current="web_coord.groups",
    )
