"""Routes over the read models: calendars, attendance and cost reports, statements."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response

from projections.attendance import Rate
from projections.calendars import CalendarEntry
from projections.costs import Totals
from service.context import circles, fresh_views
from service.endpoint import BILLING, COORDINATOR, STAFF, THERAPIST, Call, endpoint
from service.paging import instant_after, keyset_page
from service.routes.access import require_facilitator, require_self
from service.schemas import views as vs

bp = Blueprint("views", __name__)


def _calendar_page(
    call: Call, fetch: Callable[..., list[CalendarEntry]], resource_id: str
) -> dict[str, Any]:
    limit = call.query["limit"]
    rows = fetch(
        resource_id,
        since=call.query.get("start"),
        until=call.query.get("end"),
        after=instant_after(call.query.get("cursor")),
        limit=limit + 1,
    )
    return keyset_page(rows, limit, lambda row: row.cursor)


@bp.get("/therapists/<therapist_id>/sessions")
@endpoint(
    summary="The sessions a therapist facilitates, by start time",
    description="A therapist key sees only its own therapist's sessions.",
    tag="calendars",
    roles=STAFF,
    query=vs.CalendarQuery(),
    response=vs.CalendarPage(),
)
def therapist_sessions(call: Call, therapist_id: str) -> dict[str, Any]:
    require_self(call, therapist_id)
    calendars = fresh_views("calendars").calendars
    return _calendar_page(call, calendars.sessions_for_therapist, therapist_id)


@bp.get("/sessions")
@endpoint(
    summary="Every group's sessions (cancelled ones too), by start time",
    description="For a coordinator's week across groups; bound it with start and end.",
    tag="calendars",
    roles=[COORDINATOR, BILLING],
    query=vs.CalendarQuery(),
    response=vs.CalendarPage(),
)
def all_sessions(call: Call) -> dict[str, Any]:
    calendars = fresh_views("calendars").calendars
    return _calendar_page(call, lambda _all, **kw: calendars.sessions_between(**kw), "")


@bp.get("/rooms/<room_id>/sessions")
@endpoint(
    summary="The sessions held in a room, by start time",
    description="A therapist key sees only the sessions it facilitates.",
    tag="calendars",
    roles=STAFF,
    query=vs.CalendarQuery(),
    response=vs.CalendarPage(),
)
def room_sessions(call: Call, room_id: str) -> dict[str, Any]:
    result = _calendar_page(call, fresh_views("calendars").calendars.sessions_for_room, room_id)
    tid = call.therapist_id
    if tid is not None:
        result["items"] = [s for s in result["items"] if tid in s.facilitator_ids]
    return result


def _rate(rate: Rate, **extra: Any) -> dict[str, Any]:
    return {
        "rate": rate.rate,
        "recorded": rate.recorded,
        "counts": rate.counts,
        "at_risk": rate.at_risk,
        **extra,
    }


@bp.get("/reports/attendance")
@endpoint(
    summary="A group's attendance: overall and per patient rates, at-risk flags",
    tag="reports",
    roles=[COORDINATOR, THERAPIST],
    query=vs.AttendanceReportQuery(),
    response=vs.AttendanceReport(),
    errors=[404],
)
def attendance_report(call: Call) -> dict[str, Any]:
    group = circles().get_group(call.query["group_id"])
    require_facilitator(call, group)
    rates = fresh_views("attendance").attendance.group_rates(group.id)
    return {
        "group_id": group.id,
        "overall": _rate(rates.overall),
        "patients": [_rate(r, patient_id=p) for p, r in rates.patients.items()],
    }


@bp.get("/patients/<patient_id>/attendance")
@endpoint(
    summary="A patient's attendance rate, overall and per group, and the at-risk flag",
    description="A therapist key sees only the groups it facilitates.",
    tag="reports",
    roles=[COORDINATOR, THERAPIST],
    response=vs.PatientAttendance(),
)
def patient_attendance(call: Call, patient_id: str) -> dict[str, Any]:
    found = fresh_views("attendance").attendance.patient(patient_id)
    tid = call.therapist_id
    if tid is not None:
        found = found.only(
            {g for g in found.groups if tid in circles().get_group(g).facilitator_ids}
        )
    return {
        "patient_id": patient_id,
        "overall": _rate(found.overall),
        "at_risk": found.at_risk,
        "groups": [_rate(r, group_id=g) for g, r in found.groups.items()],
    }


def _totals(t: Totals, **key: Any) -> dict[str, Any]:
    return {
        "currency": t.currency,
        "lines": t.lines,
        "billable": t.billable,
        "total": t.total,
        "maintenance_subtotal": t.maintenance_subtotal,
        **key,
    }


CSV_COLUMNS = [
    "session_date",
    "session_id",
    "group_id",
    "currency",
    "lines",
    "billable",
    "total",
    "maintenance_subtotal",
]


@bp.get("/reports/costs")
@endpoint(
    summary="What sessions, groups and months cost (JSON, or CSV per session)",
    description="Every total is per currency: amounts in different currencies are never "
    "added. `format=csv` answers text/csv with one row per session: the same numbers as the "
    "JSON `sessions` list, so its rows of one currency add up to that currency's `totals`.",
    tag="reports",
    roles=[BILLING, COORDINATOR],
    query=vs.CostQuery(),
    response=vs.CostReport(),
    alternatives=("text/csv",),
)
def cost_report(call: Call) -> Any:
    q = call.query
    start, end, group_id = q.get("from_"), q.get("to"), q.get("group_id")
    costs = fresh_views("costs").costs
    sessions = [
        _totals(t, session_id=t.key[0], group_id=t.key[1], session_date=t.key[2])
        for t in costs.session_totals(start, end, group_id)
    ]
    if q["format"] == "csv":
        return _csv(sessions)
    return {
        "from_": start,
        "to": end,
        "group_id": group_id,
        "totals": [_totals(t) for t in costs.currency_totals(start, end, group_id)],
        "sessions": sessions,
        "groups": [_totals(t, group_id=t.key[0]) for t in costs.group_totals(start, end, group_id)],
        "months": [_totals(t, month=t.key[0]) for t in costs.month_totals(start, end, group_id)],
    }


def _csv(sessions: list[dict[str, Any]]) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in sessions:
        writer.writerow(row)
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="costs.csv"'
    return response


@bp.get("/patients/<patient_id>/statement")
@endpoint(
    summary="A patient's statement across all their groups: lines, totals, maintenance",
    description="Sessions from `from` to `to` (inclusive, each session's local date; both "
    "optional). Totals and maintenance subtotals are per currency.",
    tag="reports",
    roles=[BILLING, COORDINATOR],
    query=vs.StatementQuery(),
    response=vs.Statement(),
)
def statement(call: Call, patient_id: str) -> dict[str, Any]:
    start, end = call.query.get("from_"), call.query.get("to")
    found = fresh_views("costs").costs.statement(patient_id, start, end)
    return {
        "patient_id": patient_id,
        "from_": start,
        "to": end,
        "totals": [_totals(t) for t in found.totals],
        "lines": found.lines,
    }
