"""Feed tokens and the invitee's view of their invitation."""

from __future__ import annotations

from marshmallow import fields

from domain.tokens import SubjectKind
from service.schemas.common import Out, SecretWithheld

SHOWN_ONCE = (
    "Shown in this response only (only its hash is stored); a replay of the request with "
    "the same Idempotency-Key answers null here — issue a new token instead."
)


class FeedTokenOut(Out):
    id = fields.UUID(required=True)
    subject_kind = fields.Enum(SubjectKind, by_value=True, required=True)
    subject_id = fields.String(required=True)
    revoked = fields.Boolean(required=True)
    issued_at = fields.DateTime(attribute="created_on", required=True)
    modified_at = fields.DateTime(attribute="modified_on", required=True)


class FeedTokenIssued(FeedTokenOut):
    token = fields.String(allow_none=True, required=True, metadata={"description": SHOWN_ONCE})
    url = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The feed's https address (contains the token)."},
    )
    webcal_url = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The same feed as webcal://, for one-tap subscription."},
    )
    google_url = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": 'Google Calendar\'s "add by URL" link for the feed.'},
    )
    secret_withheld = SecretWithheld()


class InviteeSession(Out):
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    timezone = fields.String(required=True)
    status = fields.String(
        required=True, metadata={"description": "scheduled, or cancelled for you"}
    )
    location = fields.String(allow_none=True, required=True)
    summary = fields.String(required=True)


class InviteeView(Out):
    """What the invitee may see: their answer and the session's time and place."""

    status = fields.String(required=True, metadata={"example": "sent"})
    can_respond = fields.Boolean(required=True)
    session = fields.Nested(InviteeSession, required=True)
    calendar_url = fields.String(required=True)
