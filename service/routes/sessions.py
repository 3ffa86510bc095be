"""/sessions: show, move, cancel, record attendance, propose guests, history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from domain.session import TherapySession
from service.context import circles
from service.endpoint import COORDINATOR, THERAPIST, Call, Reply, endpoint
from service.history import history
from service.paging import page
from service.routes.access import require_facilitator
from service.schemas import invitations as iv
from service.schemas import sessions as ss
from service.schemas.common import HistoryPage, PageQuery
from service.schemas.groups import ReasonIn

bp = Blueprint("sessions", __name__)
TAG = "sessions"


def _session_reply(session: TherapySession, status: int = 200) -> Reply:
    return Reply(session, status=status, etag=session.version)


@bp.get("/sessions/<session_id>")
@endpoint(
    summary="Show a session with its attendance and guests",
    tag=TAG,
    roles=[COORDINATOR],
    response=ss.Session(),
    errors=[404],
    etag=True,
)
def get_session(call: Call, session_id: str) -> Reply:
    return _session_reply(circles().get_session(session_id))


@bp.post("/sessions/<session_id>/reschedule")
@endpoint(
    summary="Move a session to a new local start time",
    description="Refused with 409 if a facilitator or the room would be double booked.",
    tag=TAG,
    roles=[COORDINATOR],
    body=ss.RescheduleIn(),
    response=ss.Session(),
    errors=[404, 409],
    if_match=True,
    etag=True,
)
def reschedule_session(call: Call, session_id: str) -> Reply:
    session = circles().reschedule_session(
        session_id, call.actor, expected_version=call.expected_version, **call.body
    )
    return _session_reply(session)


@bp.post("/sessions/<session_id>/cancel")
@endpoint(
    summary="Cancel a session (its invitations are cancelled with it)",
    tag=TAG,
    roles=[COORDINATOR],
    body=ReasonIn(),
    response=ss.Session(),
    errors=[404, 409],
    if_match=True,
    etag=True,
)
def cancel_session(call: Call, session_id: str) -> Reply:
    session = circles().cancel_session(
        session_id, call.actor, expected_version=call.expected_version, **call.body
    )
    return _session_reply(session)


@bp.put("/sessions/<session_id>/attendance")
@endpoint(
    summary="Record or correct attendance",
    description="The records given are set (or corrected); people not listed keep what they "
    "had. A therapist key records only for groups that therapist facilitates.",
    tag=TAG,
    roles=[COORDINATOR, THERAPIST],
    body=ss.AttendanceIn(),
    response=ss.Session(),
    errors=[404, 409],
    if_match=True,
    etag=True,
)
def record_attendance(call: Call, session_id: str) -> Reply:
    app = circles()
    if call.therapist_id is not None:
        require_facilitator(call, app.get_group(app.get_session(session_id).group_id))
    records = [
        {k: (str(v) if k == "invitation_id" else v) for k, v in record.items()}
        for record in call.body["records"]
    ]
    session = app.record_attendance(
        session_id, call.actor, records, expected_version=call.expected_version
    )
    return _session_reply(session)


@bp.post("/sessions/<session_id>/invitations")
@endpoint(
    summary="Propose inviting a patient's significant other to this session",
    tag=TAG,
    roles=[COORDINATOR],
    body=iv.ProposeIn(),
    response=iv.Invitation(),
    status=201,
    errors=[404, 409],
    etag=True,
)
def propose_invitation(call: Call, session_id: str) -> Reply:
    app = circles()
    invitation_id = app.propose_invitation(session_id, call.actor, **call.body)
    invitation = app.get_invitation(invitation_id)
    return Reply(invitation, status=201, etag=invitation.version)


@bp.get("/sessions/<session_id>/history")
@endpoint(
    summary="Every event of the session, with time, type, actor and data",
    tag=TAG,
    roles=[COORDINATOR],
    query=PageQuery(),
    response=HistoryPage(),
    errors=[404],
)
def session_history(call: Call, session_id: str) -> dict[str, Any]:
    return page(history(circles(), session_id, TherapySession, "session"), call.query)
