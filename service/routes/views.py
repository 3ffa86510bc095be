"""Routes over the read models: calendars, attendance and cost reports, statements."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from flask import Blueprint, Response

from domain.values import FeeSchedule, SessionKind, minor_unit
from projections.attendance import Rate
from projections.calendars import CalendarEntry
from projections.costs import ChargeLine, Groups, Totals
from service.context import circles, fresh_views, services
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
    start, end, group_id = q.get("from_"), q.get("to"), _groups(q)
    costs = fresh_views("costs").costs
    sessions = [
        _totals(t, session_id=t.key[0], group_id=t.key[1], session_date=t.key[2])
        for t in costs.session_totals(start, end, group_id)
    ]
    if q["format"] is vs.ReportFormat.CSV:
        return _csv(sessions)
    return {
        "from_": start,
        "to": end,
        "group_id": q.get("group_id"),
        "totals": [_totals(t) for t in costs.currency_totals(start, end, group_id)],
        "sessions": sessions,
        "groups": [_totals(t, group_id=t.key[0]) for t in costs.group_totals(start, end, group_id)],
        "months": [_totals(t, month=t.key[0]) for t in costs.month_totals(start, end, group_id)],
    }


def _groups(q: dict[str, Any]) -> Groups:
    """The groups a report covers: ``group_id``, narrowed by therapist and modality."""
    group_id, tid, modality = q.get("group_id"), q.get("therapist_id"), q.get("modality")
    if tid is None and modality is None:
        return group_id
    wanted = None if modality is None else modality.value
    found = fresh_views("directory").directory.groups(
        limit=100_000, modality=wanted, therapist_id=tid
    )
    ids = frozenset(str(g.group_id) for g in found)
    return ids if group_id is None else ids & {str(group_id)}


def _csv(rows: list[dict[str, Any]], columns: list[str] = CSV_COLUMNS,
         filename: str = "costs.csv") -> Response:  # fmt: skip
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


CLAIM_COLUMNS = [
    "session_date", "patient_id", "group_id", "session_id", "session_kind",
    "attendance_status", "billing_code", "units", "fee", "amount", "currency",
    "rendering_therapist_id", "place_of_service", "place_of_service_code", "modifier",
]  # fmt: skip
# CMS place-of-service codes and the synchronous-telehealth modifier.
IN_PERSON = {"place_of_service": "in_person", "place_of_service_code": "11", "modifier": ""}
TELEHEALTH = {"place_of_service": "telehealth", "place_of_service_code": "02", "modifier": "95"}


def claim_lines(lines: list[ChargeLine]) -> list[dict[str, Any]]:
    """Each charge line with what a claim needs besides: the fee in force, the rendering
    therapist and the place of service (a session with a room is in person; one with only
    a video link is telehealth)."""
    views = fresh_views("calendars", "costs")
    sessions: dict[UUID, CalendarEntry | None] = {}
    fees: dict[tuple[UUID, datetime], FeeSchedule] = {}
    rows = []
    for line in lines:
        if line.session_id not in sessions:
            sessions[line.session_id] = views.calendars.session(line.session_id)
        entry = sessions[line.session_id]
        key = (line.group_id, line.starts_at)
        if key not in fees:
            fees[key] = views.costs.fees_in_force(line.group_id, line.starts_at)
        schedule = fees[key]
        kind = SessionKind(line.kind)
        fee = schedule.maintenance_fee if kind is SessionKind.MAINTENANCE else schedule.session_fee
        online = entry is not None and entry.room_id is None and entry.video_url is not None
        rows.append(
            {
                "session_date": line.session_date,
                "patient_id": line.patient_id,
                "group_id": line.group_id,
                "session_id": line.session_id,
                "session_kind": line.kind,
                "attendance_status": line.attendance_status,
                "billing_code": line.billing_code,
                "units": 1,
                "fee": fee.quantize(minor_unit(line.currency)),
                "amount": line.amount,
                "currency": line.currency,
                "rendering_therapist_id": entry.facilitator_ids[0] if entry else "",
                **(TELEHEALTH if online else IN_PERSON),
            }
        )
    return rows


@bp.get("/reports/claims")
@endpoint(
    summary="Claim-ready charge lines: one per patient per charged session (JSON or CSV)",
    description="The lines the cost report adds up, with billing code, units, the fee in "
    "force, amount, rendering therapist and place of service (telehealth lines carry "
    "modifier 95). `format=csv` answers text/csv, one row per line; `totals` are the cost "
    "report's `totals` for the same filters.",
    tag="reports",
    roles=[BILLING, COORDINATOR],
    query=vs.CostQuery(),
    response=vs.ClaimReport(),
    alternatives=("text/csv",),
)
def claims(call: Call) -> Any:
    q = call.query
    start, end, groups = q.get("from_"), q.get("to"), _groups(q)
    costs = fresh_views("costs").costs
    lines = claim_lines(costs.lines(start, end, groups))
    if q["format"] is vs.ReportFormat.CSV:
        return _csv(lines, CLAIM_COLUMNS, "claims.csv")
    return {
        "from_": start,
        "to": end,
        "totals": [_totals(t) for t in costs.currency_totals(start, end, groups)],
        "lines": lines,
    }


def _local_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Instants wide enough to hold every session whose local date is in [start, end]."""
    return (
        None if start is None else datetime.combine(start - timedelta(days=1), time(0), UTC),
        None if end is None else datetime.combine(end + timedelta(days=2), time(0), UTC),
    )


@bp.get("/reports/month-close")
@endpoint(
    summary="Sessions of a period that cannot be billed yet: held, no attendance recorded",
    description="Sessions (by local date, both ends inclusive) that have started, are not "
    "cancelled and have no attendance record at all.",
    tag="reports",
    roles=[BILLING, COORDINATOR],
    query=vs.MonthCloseQuery(),
    response=vs.MonthClose(),
)
def month_close(call: Call) -> dict[str, Any]:
    q = call.query
    start, end = q.get("from_"), q.get("to")
    views = fresh_views("calendars", "attendance")
    moment = services().clock()
    since, until = _local_bounds(start, end)
    if until is None or until > moment:
        until = moment
    if q.get("group_id") is not None:
        found = views.calendars.sessions_for_group(q["group_id"], since=since, until=until)
    else:
        found = views.calendars.sessions_between(since=since, until=until)
    held = [
        s
        for s in found
        if s.status != "cancelled"
        and s.starts_at <= moment
        and (start is None or s.starts_at.date() >= start)
        and (end is None or s.starts_at.date() <= end)
    ]
    recorded = views.attendance.recorded_counts([s.session_id for s in held])
    return {
        "from_": start,
        "to": end,
        "unrecorded": [
            {
                "session_id": s.session_id,
                "group_id": s.group_id,
                "number": s.number,
                "kind": s.kind,
                "session_date": s.starts_at.date(),
                "starts_at": s.starts_at,
            }  # fmt: skip
            for s in held
            if not recorded.get(str(s.session_id))
        ],
    }


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
