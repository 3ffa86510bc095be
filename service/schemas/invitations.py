"""Significant-other invitations."""

from __future__ import annotations

from marshmallow import fields, validate

from domain.values import InvitationStatus
from service.schemas.common import Id, LocalDateTime, Out, SecretWithheld, Strict, Text


class ProposeIn(Strict):
    patient_id = Id(required=True)
    invitee_name = Text(required=True)
    relationship = Text(max_length=100, required=True, metadata={"example": "spouse"})
    invitee_email = fields.Email(allow_none=True, validate=validate.Length(max=254))


class ConsentIn(Strict):
    signed_by = Text(required=True)
    signed_at = LocalDateTime(
        required=True,
        metadata={
            "description": "When the consent was signed: local wall-clock time in the group's "
            "time zone, or with an offset; not in the future."
        },
    )
    document_ref = Text(required=True, metadata={"example": "scan-2027-0042"})


class Consent(Out):
    signed_by = fields.String(required=True)
    signed_at = fields.String(required=True, metadata={"format": "date-time"})  # as recorded
    document_ref = fields.String(required=True)


class Invitation(Out):
    id = fields.UUID(required=True)
    version = fields.Integer(required=True)
    session_id = fields.UUID(required=True)
    group_id = fields.UUID(required=True)
    patient_id = fields.String(required=True)
    invitee_name = fields.String(required=True)
    relationship = fields.String(required=True)
    invitee_email = fields.String(allow_none=True, required=True)
    status = fields.Enum(InvitationStatus, by_value=True, required=True)
    approved_by = fields.String(allow_none=True, required=True)
    consent = fields.Nested(Consent, allow_none=True, required=True)
    session_starts_at = fields.DateTime(required=True)
    created_at = fields.DateTime(attribute="created_on", required=True)
    modified_at = fields.DateTime(attribute="modified_on", required=True)


class InvitationSent(Invitation):
    url = fields.String(
        allow_none=True,
        required=True,
        metadata={
            "description": "The invitee's private link (its token is shown only here; a "
            "replay with the same Idempotency-Key answers null)."
        },
    )
    secret_withheld = SecretWithheld()
