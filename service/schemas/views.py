"""Shapes of the read models: calendars, attendance reports, cost reports, statements."""

from __future__ import annotations

from enum import Enum
from typing import Any

from marshmallow import ValidationError, fields, validates_schema

from domain.values import Modality
from service.schemas.common import (
    BoundedDate,
    Id,
    Instant,
    Money,
    Out,
    PageQuery,
    RangeEnd,
    Strict,
    page_of,
)


class CalendarSession(Out):
    """A session as the calendars show it."""

    id = fields.UUID(attribute="session_id", required=True)
    group_id = fields.UUID(required=True)
    number = fields.Integer(required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    timezone = fields.String(required=True)
    duration_minutes = fields.Integer(required=True)
    sequence = fields.Integer(required=True)
    last_modified = fields.DateTime(required=True)
    room_id = fields.String(allow_none=True, required=True)
    video_url = fields.String(allow_none=True, required=True)
    facilitator_ids = fields.List(fields.String(), required=True)
    make_up_for = fields.UUID(allow_none=True, required=True)


CalendarPage = page_of(CalendarSession, "CalendarPage")


class CalendarQuery(PageQuery):
    start = Instant(metadata={"description": "Sessions starting at or after"})
    end = RangeEnd(
        metadata={
            "description": "Sessions starting before (with an offset); past 2100-01-01 reads "
            "as 2100-01-01"
        }
    )


class AttendanceCounts(Out):
    present = fields.Integer(required=True)
    late = fields.Integer(required=True)
    absent = fields.Integer(required=True)
    excused = fields.Integer(required=True)
    late_cancel = fields.Integer(required=True)


class AttendanceRate(Out):
    rate = Money(
        allow_none=True,
        required=True,
        metadata={"description": "(present + late) / recorded, 4 decimals; null if none"},
    )
    recorded = fields.Integer(required=True)
    counts = fields.Nested(AttendanceCounts, required=True)
    at_risk = fields.Boolean(
        required=True,
        metadata={
            "description": "Two no-shows in a row in one group; overall: in any of them "
            "(for a patient, any of their groups; for a group, any of its patients)"
        },
    )


class PatientAttendanceRate(AttendanceRate):
    patient_id = fields.String(required=True)


class GroupAttendanceRate(AttendanceRate):
    group_id = fields.UUID(required=True)


class AttendanceReportQuery(Strict):
    group_id = fields.UUID(required=True)


class AttendanceReport(Out):
    group_id = fields.UUID(required=True)
    overall = fields.Nested(AttendanceRate, required=True)
    patients = fields.List(fields.Nested(PatientAttendanceRate), required=True)


class PatientAttendance(Out):
    patient_id = fields.String(required=True)
    overall = fields.Nested(AttendanceRate, required=True)
    at_risk = fields.Boolean(required=True, metadata={"description": "The same as overall's"})
    groups = fields.List(fields.Nested(GroupAttendanceRate), required=True)


class ReportFormat(Enum):
    """How a report answers: JSON, or text/csv one row per item."""

    JSON = "json"
    CSV = "csv"


class PeriodQuery(Strict):
    """Sessions by their local date in their group's zone, both ends inclusive."""

    # Session dates a report may ask about: the range session times may take (SPEC §5).
    from_ = BoundedDate(
        data_key="from",
        metadata={"description": "First session date (local to each group)"},
    )
    to = BoundedDate(metadata={"description": "Last session date (inclusive)"})

    @validates_schema
    def _in_order(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("from_"), data.get("to")
        if start is not None and end is not None and end < start:
            raise ValidationError("Must not precede 'from'.", "to")


class CostQuery(PeriodQuery):
    group_id = fields.UUID()
    therapist_id = Id(metadata={"description": "Only the groups this therapist facilitates"})
    modality = fields.Enum(
        Modality,
        by_value=True,
        metadata={"description": "Only the groups of this modality"},
    )
    format = fields.Enum(ReportFormat, by_value=True, load_default=ReportFormat.JSON)


class MonthCloseQuery(PeriodQuery):
    group_id = fields.UUID()


class StatementQuery(PeriodQuery):
    pass


class ChargeLine(Out):
    session_id = fields.UUID(required=True)
    patient_id = fields.String(required=True)
    group_id = fields.UUID(required=True)
    session_date = fields.Date(required=True)
    starts_at = fields.DateTime(required=True)
    kind = fields.String(required=True)
    billing_code = fields.String(required=True)
    attendance_status = fields.String(required=True)
    session_cancelled = fields.Boolean(required=True)
    amount = Money(required=True)
    currency = fields.String(required=True)


class CurrencyTotals(Out):
    currency = fields.String(required=True)
    lines = fields.Integer(required=True, metadata={"description": "Patient charge lines"})
    billable = fields.Integer(required=True, metadata={"description": "Lines above zero"})
    total = Money(required=True)
    maintenance_subtotal = Money(required=True)


class CostReportSession(CurrencyTotals):
    session_id = fields.UUID(required=True)
    group_id = fields.UUID(required=True)
    session_date = fields.Date(required=True)


class CostReportGroup(CurrencyTotals):
    group_id = fields.UUID(required=True)


class CostReportMonth(CurrencyTotals):
    month = fields.String(required=True, metadata={"example": "2027-03"})


class CostReport(Out):
    from_ = fields.Date(data_key="from", allow_none=True, required=True)
    to = fields.Date(allow_none=True, required=True)
    group_id = fields.UUID(allow_none=True, required=True)
    totals = fields.List(
        fields.Nested(CurrencyTotals),
        required=True,
        metadata={"description": "Everything in the report, one entry per currency"},
    )
    sessions = fields.List(fields.Nested(CostReportSession), required=True)
    groups = fields.List(fields.Nested(CostReportGroup), required=True)
    months = fields.List(fields.Nested(CostReportMonth), required=True)


class ClaimLine(Out):
    """One charge line as a claim needs it."""

    session_date = fields.Date(required=True)
    patient_id = fields.String(required=True)
    group_id = fields.UUID(required=True)
    session_id = fields.UUID(required=True)
    session_kind = fields.String(required=True)
    attendance_status = fields.String(required=True)
    billing_code = fields.String(required=True)
    units = fields.Integer(required=True)
    fee = Money(
        required=True,
        metadata={"description": "The session (or maintenance) fee in force at its start"},
    )
    amount = Money(required=True, metadata={"description": "What the line charges"})
    currency = fields.String(required=True)
    rendering_therapist_id = fields.String(
        required=True, metadata={"description": "The session's first facilitator"}
    )
    place_of_service = fields.String(
        required=True, metadata={"description": "in_person (a room) or telehealth (video only)"}
    )
    place_of_service_code = fields.String(
        required=True, metadata={"description": "CMS place of service: 11 office, 02 telehealth"}
    )
    modifier = fields.String(
        required=True, metadata={"description": "95 (synchronous telehealth) or empty"}
    )


class ClaimReport(Out):
    from_ = fields.Date(data_key="from", allow_none=True, required=True)
    to = fields.Date(allow_none=True, required=True)
    totals = fields.List(fields.Nested(CurrencyTotals), required=True)
    lines = fields.List(fields.Nested(ClaimLine), required=True)


class OpenSession(Out):
    session_id = fields.UUID(required=True)
    group_id = fields.UUID(required=True)
    number = fields.Integer(required=True)
    kind = fields.String(required=True)
    session_date = fields.Date(required=True)
    starts_at = fields.DateTime(required=True)


class MonthClose(Out):
    from_ = fields.Date(data_key="from", allow_none=True, required=True)
    to = fields.Date(allow_none=True, required=True)
    unrecorded = fields.List(
        fields.Nested(OpenSession),
        required=True,
        metadata={"description": "Held, not cancelled, and no attendance recorded"},
    )


class Statement(Out):
    patient_id = fields.String(required=True)
    from_ = fields.Date(data_key="from", allow_none=True, required=True)
    to = fields.Date(allow_none=True, required=True)
    totals = fields.List(
        fields.Nested(CurrencyTotals),
        required=True,
        metadata={
            "description": "One entry per currency, with its maintenance subtotal; amounts "
            "in different currencies are never added together"
        },
    )
    lines = fields.List(fields.Nested(ChargeLine), required=True)
