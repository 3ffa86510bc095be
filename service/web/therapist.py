"""A therapist's pages: my sessions this week, and the attendance sheet of one session.

Both call the JSON routes' handlers (``service.endpoint.invoke``): the week is
``GET /therapists/{id}/sessions``, saving the sheet is ``PUT /sessions/{id}/attendance``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from domain.session import TherapySession
from domain.values import AttendanceStatus
from service.context import services
from service.endpoint import COORDINATOR, THERAPIST, invoke
from service.routes import sessions as session_routes
from service.routes import views as view_routes
from service.web.pages import (
    REFUSALS,
    FormProblem,
    asked_week,
    current_user,
    layout_urls,
    notice,
    now,
    page,
    problem_of,
    render,
    url_filler,
)
from service.web.shared import page_refusal, time_span

bp = Blueprint("web_therapist", __name__, template_folder="templates")

STATUS_LABELS = {
    AttendanceStatus.PRESENT.value: "Present",
    AttendanceStatus.LATE.value: "Late",
    AttendanceStatus.ABSENT.value: "Absent (no-show)",
    AttendanceStatus.EXCUSED.value: "Excused (cancelled ahead)",
    AttendanceStatus.LATE_CANCEL.value: "Late cancel",
}
GUEST_STATUSES = [AttendanceStatus.PRESENT.value, AttendanceStatus.LATE.value,
                  AttendanceStatus.ABSENT.value]  # fmt: skip


# --- my sessions this week ----------------------------------------------------------------------


@bp.get("/my/week")
@page(roles=(THERAPIST,))
def week() -> BaseResponse:
    user = current_user()
    clinic = ZoneInfo(current_app.config["CLINIC_TIMEZONE"])
    today = now().astimezone(clinic).date()
    monday, problem = asked_week(today)
    start = datetime.combine(monday, time(0), clinic)
    end = datetime.combine(monday + timedelta(days=7), time(0), clinic)
    found = invoke(
        view_routes.therapist_sessions,
        user,
        query={"start": start.isoformat(), "end": end.isoformat(), "limit": 200},
        therapist_id=user.therapist_id,
    )
    views = services().require_reads().projector  # made fresh by the call above
    recorded = views.attendance.recorded_counts([e.session_id for e in found["items"]])
    names: dict[Any, str] = {}
    days: dict[date, list[dict[str, Any]]] = {}
    moment = now()
    page_of = url_filler("web_sessions.session", "session_id")
    sheet_of = url_filler("web_therapist.attendance", "session_id")
    for entry in found["items"]:
        if entry.group_id not in names:
            summary = views.directory.group(entry.group_id)
            names[entry.group_id] = summary.name if summary else "(unknown group)"
        days.setdefault(entry.starts_at.date(), []).append(
            {
                "entry": entry,
                "group": names[entry.group_id],
                "page": page_of(entry.session_id),
                "sheet": sheet_of(entry.session_id),
                "when": time_span(entry.starts_at, entry.ends_at),
                "place": entry.room_id or ("Online" if entry.video_url else "—"),
                "cancelled": entry.status == "cancelled",
                "started": entry.starts_at <= moment,
                "ended": entry.ends_at <= moment,
                "recorded": recorded.get(str(entry.session_id), 0),
            }
        )
    return render(
        "web/therapist_week.html",
        days=[(day, f"{day:%A %-d %B}", items) for day, items in sorted(days.items())],
        monday=monday,
        sunday=monday + timedelta(days=6),
        this_week=week_url(),
        previous=week_url(monday - timedelta(days=7)),
        following=week_url(monday + timedelta(days=7)),
        is_current=monday <= today < monday + timedelta(days=7),
        problem=problem,
    )


def week_url(day: date | None = None) -> str:
    """``url_for("web_therapist.week", week=day)``, from the layout's link to the week."""
    base = layout_urls()["web_therapist.week"]
    return base if day is None else f"{base}?week={day.isoformat()}"


# --- the attendance sheet -----------------------------------------------------------------------


@dataclass
class Person:
    """One row of the sheet: an enrolled patient or an invited guest."""

    key: str  # "patient:<id>" or "guest:<invitation id>"
    name: str
    detail: str
    statuses: list[str]
    recorded: str | None
    at_risk: bool = False
    chosen: str | None = None
    errors: list[str] = field(default_factory=list)


def roster(user: Any, session_id: str) -> list[Person]:
    """Who to expect at a session (``session_and_roster`` without the session)."""
    return session_and_roster(user, session_id)[1]


def session_and_roster(user: Any, session_id: str) -> tuple[TherapySession, list[Person]]:
    """The session and who to expect, from ``GET /sessions/{id}/roster`` (patients enrolled
    at the session's time, then guests holding a place), with the group's at-risk flags.

    The session is the one the roster call read before the views: whatever the roster shows
    is at least as new as its version, so a save against that version is refused (412) if
    anything changed after the page was read."""
    found = invoke(session_routes.session_roster, user, session_id=session_id)
    # The flags ``GET /reports/attendance`` shows, from the same view (made fresh, and the
    # group's visibility checked, by the roster call above).
    rates = services().require_reads().projector.attendance.group_rates(found["group_id"])
    at_risk = {patient for patient, rate in rates.patients.items() if rate.at_risk}
    people = [
        Person(
            key=f"patient:{line.patient_id}",
            name=line.name,
            detail=line.patient_id,
            statuses=list(STATUS_LABELS),
            recorded=line.status,
            at_risk=line.patient_id in at_risk,
        )
        for line in found["patients"]
    ]
    names = {line.patient_id: line.name for line in found["patients"]}
    people.extend(
        Person(
            key=f"guest:{line.invitation_id}",
            name=line.name,
            detail=f"guest of {names.get(line.patient_id, line.patient_id)}",
            statuses=GUEST_STATUSES,
            recorded=line.status,
        )
        for line in found["guests"]
    )
    session: TherapySession = found["session"]
    return session, people


@bp.route("/my/sessions/<session_id>/attendance", methods=["GET", "POST"])
@page(roles=(THERAPIST, COORDINATOR))
def attendance(session_id: str) -> BaseResponse:
    user = current_user()
    try:
        session, people = session_and_roster(user, session_id)
    except REFUSALS as error:
        raise page_refusal(error) from None
    # The name from the view the roster was just read from (made fresh by that call).
    summary = services().require_reads().projector.directory.group(session.group_id)
    group_name = summary.name if summary else "(unknown group)"
    problem: FormProblem | None = None
    if request.method == "POST":
        # Fields are named by person, not position, so a roster that changed since the page
        # was shown cannot shift a status onto someone else. Only changes are sent: what the
        # page showed as recorded (``seen:``) is not written back over someone else's save.
        records, rows = [], []
        for person in people:
            chosen = request.form.get(f"status:{person.key}") or None
            seen = request.form.get(f"seen:{person.key}") or None
            if chosen is None or chosen == seen:
                continue
            person.chosen = chosen
            kind, _, who = person.key.partition(":")
            records.append(
                {"patient_id" if kind == "patient" else "invitation_id": who, "status": chosen}
            )
            rows.append(person)
        if not records:
            notice("Nothing changed: attendance is as it was.")
            return redirect(url_for("web_therapist.attendance", session_id=session_id))
        version = request.form.get("version", "")
        try:
            invoke(
                session_routes.record_attendance,
                user,
                body={"records": records},
                expected_version=int(version) if version.isdigit() else None,
                session_id=session_id,
            )
        except REFUSALS as error:
            problem = problem_of(error)
            _place_errors(problem, rows)
            # Show what is recorded now (someone may have saved meanwhile) beside this
            # person's own changes, and carry the current version: saving again sends
            # only those changes.
            session, now_people = session_and_roster(user, session_id)
            now_recorded = {p.key: p.recorded for p in now_people}
            for person in people:
                person.recorded = now_recorded.get(person.key, person.recorded)
        else:
            changed = len(records)
            notice(f"Attendance saved: {changed} {'change' if changed == 1 else 'changes'}.")
            return redirect(url_for("web_therapist.attendance", session_id=session_id))
    local_start = session.starts_at
    return render(
        "web/attendance.html",
        status=problem.status if problem else 200,
        session=session,
        group_name=group_name,
        people=people,
        labels=STATUS_LABELS,
        when=f"{local_start:%A %-d %B %Y}, {time_span(local_start, session.ends_at)}",
        place=session.room_id or ("Online" if session.video_url else "—"),
        started=session.starts_at <= now(),
        problem=problem,
        week=local_start.date().isoformat(),
        week_url=week_url(local_start.date()),
    )


def _place_errors(problem: FormProblem, rows: list[Person]) -> None:
    """Field errors like ``records.2.status`` go beside the person they are about."""
    for name, messages in list(problem.fields.items()):
        parts = name.split(".")
        if len(parts) >= 2 and parts[0] == "records" and parts[1].isdigit():
            index = int(parts[1])
            if index < len(rows):
                rows[index].errors.extend(messages)
                del problem.fields[name]
