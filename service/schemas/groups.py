"""Groups: creating, changing and showing one."""

from __future__ import annotations

from marshmallow import fields, validate

from domain.admission import MAX_ADMISSION_CLOSES_AFTER
from domain.values import Format, GroupStatus, Modality, ProblemArea, SessionKind
from service.schemas.common import (
    INT,
    Amount,
    CurrencyCode,
    Id,
    LocalDateTime,
    Money,
    Out,
    PageQuery,
    Reason,
    Strict,
    Text,
    TimeZone,
    page_of,
)


class FeesIn(Strict):
    session_fee = Amount(required=True)
    maintenance_fee = Amount(required=True)
    no_show_fee = Amount(required=True)
    late_cancel_fee = Amount(required=True)
    late_cancel_window_hours = fields.Integer(strict=True, validate=validate.Range(0, 720))
    billing_codes = fields.Dict(
        keys=fields.String(validate=validate.OneOf([k.value for k in SessionKind])),
        values=Text(max_length=20),
        metadata={"description": "Billing code per session kind; default 90853."},
    )


def admission_closes_after_in() -> fields.Integer:
    return fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(1, MAX_ADMISSION_CLOSES_AFTER),
        metadata={
            "description": "Newcomers need an admission_override_reason once this meeting "
            "(the N-th session not cancelled, in time order) has started; null: never. "
            "Default 2; none for maintenance."
        },
    )


class GroupCreate(Strict):
    name = Text(required=True)
    modality = fields.Enum(Modality, by_value=True, required=True)
    format = fields.Enum(Format, by_value=True, required=True)
    focus_area = fields.Enum(ProblemArea, by_value=True, allow_none=True)
    facilitator_ids = fields.List(Id(), required=True, validate=validate.Length(1, 10))
    room_id = Id(allow_none=True)
    video_url = fields.Url(allow_none=True, schemes={"https"}, validate=validate.Length(max=500))
    timezone = TimeZone(required=True)
    max_size = fields.Integer(strict=True, validate=validate.Range(1, 50))
    min_size = fields.Integer(strict=True, validate=validate.Range(1, 50))
    guest_limit = fields.Integer(strict=True, validate=validate.Range(0, 10))
    currency = CurrencyCode(required=True)
    fees = fields.Nested(FeesIn, required=True)
    length_override_reason = Reason(allow_none=True)
    admission_closes_after = admission_closes_after_in()


class AdmissionOverrideIn(Strict):
    admission_override_reason = Reason(
        allow_none=True,
        metadata={
            "description": "Why a patient is seated although the group has closed to newcomers; "
            "required to enroll or promote once it has."
        },
    )


class GroupPatch(AdmissionOverrideIn):
    """Raising max_size seats waitlisted patients first come first served (once the group has
    closed to newcomers, only with an admission_override_reason)."""

    name = Text()
    video_url = fields.Url(schemes={"https"}, validate=validate.Length(max=500))
    max_size = fields.Integer(strict=True, validate=validate.Range(1, 50))
    min_size = fields.Integer(strict=True, validate=validate.Range(1, 50))
    guest_limit = fields.Integer(strict=True, validate=validate.Range(0, 10))
    currency = CurrencyCode()
    fees = fields.Nested(FeesIn)
    fees_effective_from = LocalDateTime(
        metadata={
            "description": "When the new fees apply (default: now): local wall-clock time in "
            "the group's time zone, or with an offset; may be ahead."
        }
    )
    length_override_reason = Reason(
        metadata={
            "description": "Why this course may go past its modality's session bounds "
            "(recorded as its own event, LengthOverrideRecorded; a new reason replaces the old)."
        },
    )
    admission_closes_after = admission_closes_after_in()


class ReasonIn(Strict):
    reason = Reason(required=True)


class NoBody(Strict):
    """An empty JSON object (or no body at all)."""


class Fees(Out):
    currency = fields.String(required=True)
    session_fee = Money(required=True)
    maintenance_fee = Money(required=True)
    no_show_fee = Money(required=True)
    late_cancel_fee = Money(required=True)
    late_cancel_window_hours = fields.Integer(required=True)
    billing_codes = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class FeePeriod(Out):
    effective_from = fields.DateTime(allow_none=True, required=True)
    fees = fields.Nested(Fees, required=True)


class AdmissionOut(Out):
    closes_after = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "The meeting whose start closes the group; null: never."},
    )
    closed = fields.Boolean(
        required=True, metadata={"description": "Newcomers need an admission_override_reason."}
    )
    closes_at = fields.DateTime(
        allow_none=True,
        required=True,
        metadata={"description": "Start of the closing meeting; null until it is planned."},
    )
    closing_session_id = fields.UUID(allow_none=True, required=True)


class Group(Out):
    id = fields.UUID(required=True)
    version = fields.Integer(required=True)
    name = fields.String(required=True)
    modality = fields.Enum(Modality, by_value=True, required=True)
    format = fields.Enum(Format, by_value=True, required=True)
    focus_area = fields.Enum(ProblemArea, by_value=True, allow_none=True, required=True)
    status = fields.Enum(GroupStatus, by_value=True, required=True)
    facilitator_ids = fields.List(fields.String(), required=True)
    room_id = fields.String(allow_none=True, required=True)
    video_url = fields.String(allow_none=True, required=True)
    timezone = fields.String(required=True)
    max_size = fields.Integer(required=True)
    min_size = fields.Integer(required=True)
    guest_limit = fields.Integer(required=True)
    enrolled_count = fields.Function(lambda g: len(g.enrolled), required=True, metadata=INT)
    waitlist_count = fields.Function(lambda g: len(g.waitlist), required=True, metadata=INT)
    free_seats = fields.Integer(required=True)
    session_count = fields.Function(lambda g: len(g.session_ids), required=True, metadata=INT)
    currency = fields.String(required=True)
    fees = fields.Nested(Fees, required=True, metadata={"description": "Fees in force now"})
    fee_history = fields.List(fields.Nested(FeePeriod), attribute="fee_periods", required=True)
    length_override_reason = fields.String(allow_none=True, required=True)
    admission_closes_after = fields.Integer(allow_none=True, required=True)
    admission = fields.Nested(
        AdmissionOut,
        required=True,
        metadata={"description": "Whether the group admits newcomers now (SPEC §2)."},
    )
    created_at = fields.DateTime(attribute="created_on", required=True)
    modified_at = fields.DateTime(attribute="modified_on", required=True)


class GroupSummary(Out):
    """A row of the group list."""

    id = fields.UUID(attribute="group_id", required=True)
    name = fields.String(required=True)
    modality = fields.String(required=True)
    format = fields.String(required=True)
    status = fields.String(required=True)
    timezone = fields.String(required=True)
    currency = fields.String(required=True)
    max_size = fields.Integer(required=True)
    min_size = fields.Integer(required=True)
    guest_limit = fields.Integer(required=True)
    enrolled_count = fields.Integer(required=True)
    waitlist_count = fields.Integer(required=True)
    session_count = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)


class GroupListQuery(PageQuery):
    status = fields.Enum(GroupStatus, by_value=True)
    modality = fields.Enum(Modality, by_value=True)
    therapist_id = Id(metadata={"description": "Only groups this therapist facilitates"})


GroupPage = page_of(GroupSummary, "GroupPage")
