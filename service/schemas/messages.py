"""Messages to an invitee and their delivery (SPEC §9)."""

from __future__ import annotations

from marshmallow import fields

from service.schemas.common import Out


class Attempt(Out):
    attempt = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    outcome = fields.String(required=True, metadata={"description": "sent, deferred or failed"})
    detail = fields.String(allow_none=True, required=True)


class Delivery(Out):
    message_id = fields.String(
        required=True,
        metadata={"description": "Also the email's Message-ID: <message_id@circles>"},
    )
    kind = fields.String(
        required=True,
        metadata={
            "description": "invitation, invitation-revoked, session-moved or session-cancelled"
        },
    )
    status = fields.String(
        required=True,
        metadata={"description": "pending (next_attempt_at says when), sent or failed (for good)"},
    )
    attempts = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    next_attempt_at = fields.DateTime(allow_none=True, required=True)
    sent_at = fields.DateTime(allow_none=True, required=True)
    last_error = fields.String(allow_none=True, required=True)
    history = fields.List(fields.Nested(Attempt), required=True)


class DeliveryList(Out):
    messages = fields.List(fields.Nested(Delivery), required=True)
