"""Enrollments: enrolling, intake, withdrawal, and showing one."""

from __future__ import annotations

from marshmallow import fields

from domain.admission import WaitingFor
from domain.values import EnrollmentStatus, ProblemArea
from service.schemas.common import Id, LocalDateTime, Out, PageQuery, Strict, Text, page_of
from service.schemas.groups import AdmissionOverrideIn, ReasonIn

WAITING_FOR = {
    "description": "For a waitlisted patient: 'seat' (promoted when a seat frees) or "
    "'next_group' (the group has closed to newcomers; waiting for the next group). "
    "Null otherwise."
}


class EnrollIn(AdmissionOverrideIn):
    patient_id = Id(required=True)
    patient_name = Text(required=True)
    enrolled_since = LocalDateTime(
        metadata={
            "description": "Back-date the seat of a running group moved into Circles: local "
            "wall-clock time in the group's time zone, or with an offset; not in the future."
        }
    )


class WithdrawIn(ReasonIn, AdmissionOverrideIn):
    """Once the group has closed to newcomers, the freed seat goes to the waitlist only with
    an admission_override_reason."""


class IntakeIn(Strict):
    primary_area = fields.Enum(ProblemArea, by_value=True, required=True)
    inventory_done = fields.Boolean(required=True)


class Enrollment(Out):
    id = fields.UUID(required=True)
    version = fields.Integer(required=True)
    group_id = fields.UUID(required=True)
    patient_id = fields.String(required=True)
    patient_name = fields.String(required=True)
    status = fields.Enum(EnrollmentStatus, by_value=True, required=True)
    enrolled_at = fields.DateTime(allow_none=True, required=True)
    ended_at = fields.DateTime(allow_none=True, required=True)
    end_reason = fields.String(allow_none=True, required=True)
    primary_area = fields.Enum(ProblemArea, by_value=True, allow_none=True, required=True)
    inventory_done = fields.Boolean(required=True)
    at_risk = fields.Boolean(required=True)
    admission_override_reason = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Why the patient was admitted after the group closed."},
    )
    waiting_for = fields.Enum(
        WaitingFor, by_value=True, allow_none=True, required=True, metadata=WAITING_FOR
    )
    created_at = fields.DateTime(attribute="created_on", required=True)
    modified_at = fields.DateTime(attribute="modified_on", required=True)


class EnrollmentWithdrawn(Enrollment):
    promoted_enrollment_id = fields.UUID(
        allow_none=True,
        required=True,
        metadata={"description": "The waitlisted enrollment promoted into the freed seat."},
    )


class EnrollmentRow(Out):
    """A row of a group's enrollment list (from the directory view)."""

    id = fields.UUID(attribute="enrollment_id", required=True)
    group_id = fields.UUID(required=True)
    patient_id = fields.String(required=True)
    patient_name = fields.String(required=True)
    status = fields.String(required=True)
    enrolled_at = fields.DateTime(allow_none=True, required=True)
    ended_at = fields.DateTime(allow_none=True, required=True)
    primary_area = fields.String(allow_none=True, required=True)
    waitlist_position = fields.Integer(
        allow_none=True, required=True, metadata={"description": "1 = next to be seated"}
    )
    waiting_for = fields.Enum(
        WaitingFor, by_value=True, allow_none=True, required=True, metadata=WAITING_FOR
    )


class EnrollmentQuery(PageQuery):
    status = fields.Enum(EnrollmentStatus, by_value=True)


EnrollmentPage = page_of(EnrollmentRow, "EnrollmentPage")
