"""What a therapist key may see: only the groups that therapist facilitates."""

from __future__ import annotations

from typing import Any

from domain.errors import NotFoundError
from service.endpoint import Call
from service.errors import ApiError


def require_facilitator(call: Call, group: Any) -> None:
    tid = call.therapist_id
    if tid is not None and tid not in group.facilitator_ids:
        raise ApiError(403, f"Therapist {tid} does not facilitate group '{group.name}'.")


def require_visible(call: Call, group: Any, what: str, ident: Any) -> None:
    """A therapist key reads only what belongs to groups that therapist facilitates;
    anything else answers exactly as if it did not exist (404), so ids of other groups'
    sessions and patients reveal nothing."""
    tid = call.therapist_id
    if tid is not None and tid not in group.facilitator_ids:
        raise NotFoundError(f"no {what} with id {ident}")


def require_self(call: Call, therapist_id: str) -> None:
    tid = call.therapist_id
    if tid is not None and tid != therapist_id:
        raise ApiError(403, "A therapist key sees only its own therapist's sessions.")
