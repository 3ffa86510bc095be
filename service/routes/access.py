"""What each key may see, decided here and nowhere else.

A coordinator's scope is the whole clinic; a therapist key's is the groups its therapist
facilitates — their sessions, invitations and calendars — and its own therapist id.
(Roles a route does not admit at all are refused earlier, with 403, by
:func:`service.endpoint._authenticate`.)

**Out of scope is not found.** Anything outside a key's scope is answered exactly as an id
that does not exist: the same 404 and the same words, naming no group, modality or
problem area. A 403 would tell that the thing exists, and its detail would name it.
"""

from __future__ import annotations

from typing import Any

from domain.errors import NotFoundError
from service.context import circles
from service.endpoint import Call


def out_of_scope(what: str, ident: Any) -> NotFoundError:
    """The answer an unknown id gets (see ``Circles._get``): indistinguishable on purpose."""
    return NotFoundError(f"no {what} with id {ident}")


def facilitates(call: Call, group: Any) -> bool:
    """Whether the key may see this group: any key but a therapist's, or its facilitator."""
    tid = call.therapist_id
    return tid is None or tid in group.facilitator_ids


def require_facilitator(call: Call, group: Any) -> None:
    if not facilitates(call, group):
        raise out_of_scope("group", group.id)


def require_session_scope(call: Call, session: Any) -> None:
    if call.therapist_id is not None and not facilitates(
        call, circles().get_group(session.group_id)
    ):
        raise out_of_scope("session", session.id)


def require_invitation_scope(call: Call, invitation: Any) -> None:
    if call.therapist_id is not None and not facilitates(
        call, circles().get_group(invitation.group_id)
    ):
        raise out_of_scope("invitation", invitation.id)


def require_visible(call: Call, group: Any, what: str, ident: Any) -> None:
    """A therapist key reads only what belongs to groups that therapist facilitates;
    anything else answers exactly as if it did not exist (404), so ids of other groups'
    sessions and patients reveal nothing."""
    if not facilitates(call, group):
        raise out_of_scope(what, ident)


def require_self(call: Call, therapist_id: str) -> None:
    tid = call.therapist_id
    if tid is not None and tid != therapist_id:
        raise out_of_scope("therapist", therapist_id)
