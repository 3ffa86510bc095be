"""Staff API keys, as the admin sees them (never the key itself, except once on creation)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from service.keys_and_idempotency import ROLES
from service.schemas.common import Id, Out, SecretWithheld, Strict, Text, page_of


class KeyCreate(Strict):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    name = Text(required=True, metadata={"example": "Dana (front desk)"})
    therapist_id = Id(metadata={"description": "Required for, and only for, a therapist key."})

    @validates_schema
    def _therapist(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("role") == "therapist") != ("therapist_id" in data):
            raise ValidationError(
                "A therapist key needs therapist_id; other roles take none.", "therapist_id"
            )


class StaffKeyOut(Out):
    id = fields.UUID(required=True)
    prefix = fields.String(required=True, metadata={"description": "First characters"})
    role = fields.String(required=True)
    name = fields.String(required=True)
    therapist_id = fields.String(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    revoked_at = fields.DateTime(allow_none=True, required=True)


class KeyCreated(StaffKeyOut):
    key = fields.String(
        allow_none=True,
        required=True,
        metadata={
            "description": "Shown once; store it now (only its SHA-256 is kept). A replay "
            "with the same Idempotency-Key answers null here."
        },
    )
    secret_withheld = SecretWithheld()


KeyPage = page_of(StaffKeyOut, "KeyPage")
