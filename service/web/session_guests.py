"""The significant-other invitation forms of a session's page (SPEC §2): propose, then each
step of the workflow — approve (a facilitator), record consent, send (the invitee's link shown
once, on the answer itself) and revoke.

Each form is the JSON route's body, sent through ``invoke``: ``POST /sessions/{id}/invitations``
and ``POST /invitations/{id}/approve|consent|send|revoke``. A refusal shows the session's page
again (``service.web.sessions``), the problem beside the form's fields or at the top.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from service.endpoint import COORDINATOR, THERAPIST, invoke
from service.routes import invitations as invitation_routes
from service.routes import sessions as session_routes
from service.web.pages import REFUSALS, PageRefusal, current_user, notice, page
from service.web.sessions import FORM_FIELDS, form_version, refused_form, session_page, typed
from service.web.shared import page_refusal

bp = Blueprint("web_guests", __name__, template_folder="templates")

# The invitation steps: step -> (JSON route, what the notice says).
STEPS = {
    "approve": (invitation_routes.approve_invitation, "approved"),
    "consent": (invitation_routes.record_consent, "has the patient's written consent recorded"),
    "send": (invitation_routes.send_invitation, "was sent"),
    "revoke": (invitation_routes.revoke_invitation, "was revoked"),
}


@bp.post("/web/sessions/<session_id>/invitations")
@page(roles=(COORDINATOR,))
def propose(session_id: str) -> BaseResponse:
    sent = typed("patient_id", "invitee_name", "relationship", "invitee_email")
    body: dict[str, Any] = {k: v for k, v in sent.items() if v or k != "invitee_email"}
    try:
        invoke(
            session_routes.propose_invitation,
            current_user(),
            body=body,
            expected_version=form_version(),
            session_id=session_id,
        )
    except REFUSALS as error:
        return refused_form(session_id, error, "propose", sent)
    notice(
        f"The invitation of {sent['invitee_name']} was proposed; a facilitator approves it next."
    )
    return redirect(url_for("web_sessions.session", session_id=session_id))


def consent_body(form: Any, zone: ZoneInfo) -> dict[str, Any]:
    """``POST /invitations/{id}/consent``'s body: the signing time typed as local wall-clock
    time in the group's zone, sent with that zone's offset (anything else is sent as typed,
    for the route to refuse)."""
    body = {name: str(form.get(name, "")).strip() for name in ("signed_by", "document_ref")}
    written = str(form.get("signed_at", "")).strip()
    if written:
        try:
            local = datetime.fromisoformat(written)
        except ValueError:
            body["signed_at"] = written
        else:
            body["signed_at"] = (
                local.replace(tzinfo=zone).isoformat() if local.tzinfo is None else written
            )
    return body


@bp.post("/web/sessions/<session_id>/invitations/<invitation_id>/<step>")
@page(roles=(COORDINATOR, THERAPIST))
def step(session_id: str, invitation_id: str, step: str) -> BaseResponse:
    if step not in STEPS:
        raise PageRefusal(
            404, "No such step", f"“{step[:40]}” is not a step of an invitation's workflow."
        )
    user = current_user()
    view, done = STEPS[step]
    sent = typed(*FORM_FIELDS[step])
    try:
        if step == "consent":
            session = invoke(session_routes.get_session, user, session_id=session_id).data
            body: dict[str, Any] = consent_body(request.form, ZoneInfo(session.timezone))
        else:
            body = sent
        reply = invoke(
            view, user, body=body, expected_version=form_version(), invitation_id=invitation_id
        )
    except REFUSALS as error:
        if step != "approve" and user.role != COORDINATOR:
            raise page_refusal(error) from None
        return refused_form(session_id, error, step, sent, invitation_id)
    if step == "send":
        # The invitee's link, shown once: never kept in a notice or anywhere else.
        link = {"invitation_id": invitation_id, "url": reply.data["url"]}
        return session_page(session_id, sent_link=link)
    notice(f"The invitation {done}.")
    return redirect(url_for("web_sessions.session", session_id=session_id))
