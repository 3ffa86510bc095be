"""/invitations: approve (facilitator), consent, send, revoke, show, history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from domain.commands.tokens import IssuedToken
from domain.invitation import Invitation
from service.context import circles, services
from service.endpoint import COORDINATOR, THERAPIST, Call, Reply, endpoint
from service.history import history
from service.links import public_base
from service.mail import outbox
from service.paging import page
from service.routes.access import require_invitation_scope
from service.schemas import invitations as iv
from service.schemas.common import HistoryPage, PageQuery, attributes
from service.schemas.groups import NoBody, ReasonIn
from service.schemas.messages import DeliveryList

bp = Blueprint("invitations", __name__)
TAG = "invitations"


def _reply(invitation: Invitation) -> Reply:
    return Reply(invitation, etag=invitation.version)


@bp.get("/invitations/<invitation_id>")
@endpoint(
    summary="Show an invitation",
    tag=TAG,
    roles=[COORDINATOR],
    response=iv.Invitation(),
    errors=[404],
    etag=True,
)
def get_invitation(call: Call, invitation_id: str) -> Reply:
    return _reply(circles().get_invitation(invitation_id))


@bp.post("/invitations/<invitation_id>/approve")
@endpoint(
    summary="Approve a proposed invitation (a facilitator of the group)",
    tag=TAG,
    roles=[THERAPIST],
    body=NoBody(),
    response=iv.Invitation(),
    errors=[404, 409],
    if_match=True,
    etag=True,
)
def approve_invitation(call: Call, invitation_id: str) -> Reply:
    assert call.staff is not None
    require_invitation_scope(call, circles().get_invitation(invitation_id))
    invitation = circles().approve_invitation(
        invitation_id,
        call.actor,
        therapist_id=call.staff.therapist_id,
        expected_version=call.expected_version,
    )
    return _reply(invitation)


@bp.post("/invitations/<invitation_id>/consent")
@endpoint(
    summary="Record the patient's written consent",
    tag=TAG,
    roles=[COORDINATOR],
    body=iv.ConsentIn(),
    response=iv.Invitation(),
    errors=[404, 409],
    if_match=True,
    etag=True,
)
def record_consent(call: Call, invitation_id: str) -> Reply:
    invitation = circles().record_consent(
        invitation_id, call.actor, expected_version=call.expected_version, **call.body
    )
    return _reply(invitation)


@bp.post("/invitations/<invitation_id>/send")
@endpoint(
    summary="Send the invitation (after approval and consent)",
    tag=TAG,
    roles=[COORDINATOR],
    body=NoBody(),
    response=iv.InvitationSent(),
    errors=[404, 409],
    if_match=True,
    etag=True,
    secret=("url",),
)
def send_invitation(call: Call, invitation_id: str) -> Reply:
    base, clock = public_base(), services().clock

    def keep_link(sent: Invitation, issued: IssuedToken) -> None:
        # For the invitee's email; with no address nothing is kept: only the answer has it.
        if sent.invitee_email is not None:
            outbox().keep_link(issued.record.id, sent.id, f"{base}/i/{issued.token}", clock())

    invitation, link = circles().send_invitation(
        invitation_id, call.actor, expected_version=call.expected_version, before_save=keep_link
    )
    url = base + f"/i/{link.token}"
    data = {**attributes(iv.Invitation(), invitation), "url": url}
    return Reply(data, etag=invitation.version, headers={"Cache-Control": "no-store"})


@bp.post("/invitations/<invitation_id>/revoke")
@endpoint(
    summary="Revoke the invitation (the patient withdrew consent)",
    tag=TAG,
    roles=[COORDINATOR],
    body=ReasonIn(),
    response=iv.Invitation(),
    errors=[404, 409],
    if_match=True,
    etag=True,
)
def revoke_invitation(call: Call, invitation_id: str) -> Reply:
    invitation = circles().revoke_invitation(
        invitation_id, call.actor, expected_version=call.expected_version, **call.body
    )
    return _reply(invitation)


@bp.get("/invitations/<invitation_id>/messages")
@endpoint(
    summary="The emails to the invitee and every attempt to deliver them (SPEC §9)",
    tag=TAG,
    roles=[COORDINATOR],
    response=DeliveryList(),
    errors=[404],
)
def invitation_messages(call: Call, invitation_id: str) -> dict[str, Any]:
    invitation = circles().get_invitation(invitation_id)
    box = outbox()
    box.catch_up()  # what the events so far call for, sent or not
    found = box.deliveries(invitation.id)
    history: dict[str, list[Any]] = {}
    for attempt in box.attempts(d.message_id for d in found):
        history.setdefault(attempt.message_id, []).append(attempt)
    return {"messages": [{**vars(d), "history": history.get(d.message_id, [])} for d in found]}


@bp.get("/invitations/<invitation_id>/history")
@endpoint(
    summary="Every event of the invitation, with time, type, actor and data",
    tag=TAG,
    roles=[COORDINATOR],
    query=PageQuery(),
    response=HistoryPage(),
    errors=[404],
)
def invitation_history(call: Call, invitation_id: str) -> dict[str, Any]:
    return page(history(circles(), invitation_id, Invitation, "invitation"), call.query)
