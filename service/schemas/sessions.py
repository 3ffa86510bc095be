"""Sessions: plans, make-ups, moves, cancellations, attendance, and showing one."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, pre_dump, validate, validates_schema

from domain.plans import MAX_DURATION_MINUTES, MAX_SESSIONS_PER_PLAN
from domain.session import TherapySession
from domain.values import AttendanceStatus, Cadence, SessionKind, SessionStatus
from service.schemas.common import (
    BoundedDate,
    Id,
    LocalDateTime,
    Out,
    Reason,
    Strict,
    attributes,
    page_of,
)


class PlanIn(Strict):
    """A plan: ``count`` sessions on a cadence from ``first_date``, at a local time."""

    first_date = BoundedDate(required=True, metadata={"example": "2027-03-02"})
    start_time = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{2}:\d{2}$", error="Must be a local time like 18:00."),
        metadata={"example": "18:00"},
    )
    duration_minutes = fields.Integer(
        strict=True, required=True, validate=validate.Range(15, MAX_DURATION_MINUTES)
    )
    cadence = fields.Enum(
        Cadence,
        by_value=True,
        metadata={
            "description": "weekly; every_n_weeks (with interval); monthly: the same date each "
            "month (the 31st falls on shorter months' last day); monthly_weekday: the same "
            "weekday of the month as first_date (the 2nd Tuesday), a 5th weekday meaning the "
            "month's last. Default: monthly for maintenance sessions, else weekly."
        },
    )
    interval = fields.Integer(
        strict=True,
        validate=validate.Range(1, 12),
        metadata={"description": "Weeks between sessions, with cadence every_n_weeks."},
    )
    count = fields.Integer(
        strict=True, required=True, validate=validate.Range(1, MAX_SESSIONS_PER_PLAN)
    )
    skip_dates = fields.List(
        BoundedDate(),
        validate=validate.Length(max=100),
        metadata={"description": "Clinic closures; each pushes the course one step later."},
    )
    kind = fields.Enum(SessionKind, by_value=True)


class MakeUpIn(Strict):
    """A make-up session for a cancelled one."""

    class Meta(Strict.Meta):
        discriminator = "make_up_for"

    make_up_for = fields.UUID(required=True)
    starts_at = LocalDateTime(required=True)
    duration_minutes = fields.Integer(
        strict=True, validate=validate.Range(15, MAX_DURATION_MINUTES)
    )


class RescheduleIn(Strict):
    starts_at = LocalDateTime(required=True)
    reason = Reason(required=True)


class AttendanceRecordIn(Strict):
    patient_id = Id()
    invitation_id = fields.UUID()
    status = fields.Enum(AttendanceStatus, by_value=True, required=True)

    @validates_schema
    def _one_person(self, data: dict[str, Any], **_: Any) -> None:
        if ("patient_id" in data) == ("invitation_id" in data):
            raise ValidationError("Give either patient_id or invitation_id.", "patient_id")


class AttendanceIn(Strict):
    records = fields.List(
        fields.Nested(AttendanceRecordIn), required=True, validate=validate.Length(1, 100)
    )


class CancellationIn(Strict):
    """A patient cancels ahead: who, and when the clinic was told."""

    patient_id = Id(required=True)
    told_at = LocalDateTime(
        required=True,
        metadata={
            "description": "When the patient told the clinic: local wall-clock time in the "
            "group's time zone (an explicit offset is accepted). Not in the future.",
            "example": "2027-03-08T09:30",
        },
    )


class AttendanceEntry(Out):
    patient_id = fields.String(required=True)
    status = fields.String(required=True)


class CancellationEntry(Out):
    patient_id = fields.String(required=True)
    told_at = fields.DateTime(required=True)
    status = fields.String(required=True, metadata={"description": "excused or late_cancel"})


class Cancellation(CancellationEntry):
    """An advance cancellation as recorded, with the window that decided its status."""

    session_id = fields.UUID(required=True)
    session_starts_at = fields.DateTime(required=True)
    late_cancel_window_hours = fields.Integer(required=True)


class GuestEntry(Out):
    invitation_id = fields.String(required=True)
    status = fields.String(required=True)


class Session(Out):
    id = fields.UUID(required=True)
    version = fields.Integer(required=True)
    group_id = fields.UUID(required=True)
    number = fields.Integer(required=True)
    kind = fields.Enum(SessionKind, by_value=True, required=True)
    status = fields.Enum(SessionStatus, by_value=True, required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    timezone = fields.String(required=True)
    duration_minutes = fields.Integer(required=True)
    facilitator_ids = fields.List(fields.String(), required=True)
    room_id = fields.String(allow_none=True, required=True)
    video_url = fields.String(allow_none=True, required=True)
    make_up_for = fields.UUID(allow_none=True, required=True)
    sequence = fields.Integer(required=True)
    attendance = fields.List(
        fields.Nested(AttendanceEntry),
        required=True,
        metadata={"description": "Each patient's status: recorded, or from a cancellation"},
    )
    cancellations = fields.List(fields.Nested(CancellationEntry), required=True)
    guests = fields.List(fields.Nested(GuestEntry), required=True)
    invitation_ids = fields.List(fields.UUID(), required=True)
    created_at = fields.DateTime(attribute="created_on", required=True)
    modified_at = fields.DateTime(attribute="modified_on", required=True)

    @pre_dump
    def _flatten(self, session: Any, **_: Any) -> Any:
        """Attendance maps become lists of rows; everything else is read as attributes."""
        if isinstance(session, dict):
            return session
        shaped = attributes(self, session, skip=("attendance", "cancellations", "guests"))
        shaped["attendance"] = [
            {"patient_id": p, "status": s.value} for p, s in session.attendance_by_patient.items()
        ]
        shaped["cancellations"] = [
            {"patient_id": p, "told_at": told, "status": s.value}
            for p, (told, s) in session.cancellations.items()
        ]
        shaped["guests"] = [
            {"invitation_id": i, "status": s.value} for i, s in session.guest_attendance.items()
        ]
        return shaped


def session_answer(session: TherapySession) -> dict[str, Any]:
    """``Session().dump(session)``, written out by hand for the command path (recording
    attendance answers with the whole session after every save, and marshmallow's generic
    dump of it and its roster costs as much as the save). tests/service/test_session_answer.py
    holds it equal to the schema's dump, which stays the one description of the shape."""
    return {
        "id": str(session.id),
        "version": session.version,
        "group_id": str(session.group_id),
        "number": session.number,
        "kind": session.kind.value,
        "status": session.status.value,
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat(),
        "timezone": session.timezone,
        "duration_minutes": session.duration_minutes,
        "facilitator_ids": [str(f) for f in session.facilitator_ids],
        "room_id": session.room_id,
        "video_url": session.video_url,
        "make_up_for": None if session.make_up_for is None else str(session.make_up_for),
        "sequence": session.sequence,
        "attendance": [
            {"patient_id": p, "status": s.value} for p, s in session.attendance_by_patient.items()
        ],
        "cancellations": [
            {"patient_id": p, "told_at": told.isoformat(), "status": s.value}
            for p, (told, s) in session.cancellations.items()
        ],
        "guests": [
            {"invitation_id": i, "status": s.value} for i, s in session.guest_attendance.items()
        ],
        "invitation_ids": [str(i) for i in session.invitation_ids],
        "created_at": session.created_on.isoformat(),
        "modified_at": session.modified_on.isoformat(),
    }


class SessionList(Out):
    sessions = fields.List(fields.Nested(Session), required=True)


SessionPage = page_of(Session, "SessionPage")


class RosterPatient(Out):
    patient_id = fields.String(required=True)
    name = fields.String(required=True)
    enrollment_id = fields.UUID(required=True)
    status = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Attendance or advance cancellation; null until recorded"},
    )


class RosterGuest(Out):
    invitation_id = fields.UUID(required=True)
    patient_id = fields.String(required=True, metadata={"description": "Who invited them"})
    name = fields.String(required=True)
    invitation_status = fields.String(required=True)
    status = fields.String(allow_none=True, required=True)


class Roster(Out):
    """Who is expected at a session, and what has been recorded for each."""

    session_id = fields.UUID(required=True)
    group_id = fields.UUID(required=True)
    number = fields.Integer(required=True)
    status = fields.String(required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    timezone = fields.String(required=True)
    patients = fields.List(
        fields.Nested(RosterPatient),
        required=True,
        metadata={"description": "Patients enrolled at the session's time"},
    )
    guests = fields.List(fields.Nested(RosterGuest), required=True)


class PlanCollision(Out):
    """A session that already holds one of the plan's therapists or rooms then."""

    resource = fields.String(required=True, metadata={"example": "therapist:t-ana"})
    session_id = fields.String(required=True)
    label = fields.String(required=True)
    group_name = fields.String(required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)


class PlannedSession(Out):
    number = fields.Integer(required=True)
    kind = fields.Enum(SessionKind, by_value=True, required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    pushed_past = fields.List(
        fields.Date(),
        required=True,
        metadata={"description": "Closures on the cadence skipped just before this session."},
    )
    clock_change = fields.Boolean(
        required=True,
        metadata={"description": "The clocks changed since the session before it (DST)."},
    )
    collisions = fields.List(fields.Nested(PlanCollision), required=True)


class PlanPreview(Out):
    """What the plan would create; nothing is saved."""

    timezone = fields.String(required=True)
    sessions = fields.List(fields.Nested(PlannedSession), required=True)
    closures_unused = fields.List(
        fields.Date(),
        required=True,
        metadata={"description": "Closure dates off the cadence: they push nothing."},
    )
    course_problem = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The course-length rule saving this plan would break."},
    )
