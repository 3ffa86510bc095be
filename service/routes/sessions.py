"""/sessions: show, move, cancel, record attendance, propose guests, history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from domain.errors import NotFoundError
from domain.session import TherapySession
from service.context import circles, fresh_views
from service.endpoint import COORDINATOR, THERAPIST, Call, Reply, endpoint
from service.history import history
from service.paging import page
from service.routes.access import require_session_scope, require_visible
from service.schemas import invitations as iv
from service.schemas import sessions as ss
from service.schemas.common import HistoryPage, PageQuery
from service.schemas.groups import ReasonIn

bp = Blueprint("sessions", __name__)
TAG = "sessions"


def _session_reply(session: TherapySession, status: int = 200) -> Reply:
    return Reply(session, status=status, etag=session.version)


def _visible_session(call: Call, session_id: str) -> TherapySession:
    """The session, if this key may read it (a therapist: only their groups' sessions)."""
    app = circles()
    session = app.get_session(session_id)
    if call.therapist_id is not None:
        require_visible(call, app.get_group(session.group_id), "session", session.id)
    return session


@bp.get("/sessions/<session_id>")
@endpoint(
    summary="Show a session with its attendance, advance cancellations and guests",
    description="A therapist key reads only the sessions of groups that therapist "
    "facilitates; others answer 404.",
    tag=TAG,
    roles=[COORDINATOR, THERAPIST],
    response=ss.Session(),
    errors=[404],
    etag=True,
)
def get_session(call: Call, session_id: str) -> Reply:
    return _session_reply(_visible_session(call, session_id))


@bp.get("/sessions/<session_id>/roster")
@endpoint(
    summary="Who to expect at a session: patients enrolled at its time, guests, and what "
    "has been recorded for each",
    description="For taking attendance. Patients are those enrolled at the session's start "
    "(and anyone already recorded); each shows their attendance or advance cancellation, "
    "null until recorded. Guests are the invitations that hold a place. A therapist key "
    "reads only the sessions of groups that therapist facilitates; others answer 404.",
    tag=TAG,
    roles=[COORDINATOR, THERAPIST],
    response=ss.Roster(),
    errors=[404],
)
def session_roster(call: Call, session_id: str) -> dict[str, Any]:
    session = _visible_session(call, session_id)
    views = fresh_views("calendars", "attendance")
    entry = views.calendars.session(session.id)
    roster = views.attendance.roster(session.id)
    if entry is None or roster is None:  # the views have not seen it: as good as unknown
        raise NotFoundError(f"no session with id {session.id}")
    return {
        "session_id": entry.session_id,
        "group_id": entry.group_id,
        "number": entry.number,
        "status": entry.status,
        "starts_at": entry.starts_at,
        "ends_at": entry.ends_at,
        "timezone": entry.timezone,
        "patients": roster.patients,
        "guests": roster.guests,
        # Not in the JSON shape: the session as read before the views, for the attendance
        # page (its version is the If-Match of the save; the page need not read it again).
        "session": session,
    }


@bp.post("/sessions/<session_id>/cancellations")
@endpoint(
    summary="Record a patient's advance cancellation (excused or late_cancel)",
    description="Before the session starts: the patient told the clinic at `told_at` that "
    "they will not come. Told at least the group's `late_cancel_window_hours` ahead it is "
    "`excused` (no charge); later it is `late_cancel` (the late-cancel fee). It shows in the "
    "attendance views and the costs, and an attendance correction after the session "
    "overrides it. Refused once the session has started, for a cancelled session, and for "
    "a patient not enrolled at the session's time. A therapist key records only for "
    "groups that therapist facilitates.",
    tag=TAG,
    roles=[COORDINATOR, THERAPIST],
    body=ss.CancellationIn(),
    response=ss.Cancellation(),
    status=201,
    errors=[404, 409],
    if_match=True,
    etag=True,
)
def record_cancellation(call: Call, session_id: str) -> Reply:
    app = circles()
    _visible_session(call, session_id)
    session, status = app.record_advance_cancellation(
        session_id, call.actor, expected_version=call.expected_version, **call.body
    )
    patient_id = call.body["patient_id"]
    told_at, _ = session.cancellations[patient_id]
    group = app.get_group(session.group_id)
    data = {
        "session_id": session.id,
        "patient_id": patient_id,
        "told_at": told_at,
        "status": status.value,
        "session_starts_at": session.starts_at,
        "late_cancel_window_hours": group.fees_for(session.starts_at).late_cancel_window_hours,
    }
    return Reply(data, status=201, etag=session.version)


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
    records = [
        {k: (str(v) if k == "invitation_id" else v) for k, v in record.items()}
        for record in call.body["records"]
    ]
    session = circles().record_attendance(
        session_id,
        call.actor,
        records,
        expected_version=call.expected_version,
        authorize=lambda found: require_session_scope(call, found),
    )
    return Reply(ss.session_answer(session), etag=session.version, dumped=True)


@bp.post("/sessions/<session_id>/invitations")
@endpoint(
    summary="Propose inviting a patient's significant other to this session",
    tag=TAG,
    roles=[COORDINATOR],
    body=iv.ProposeIn(),
    response=iv.Invitation(),
    status=201,
    errors=[404, 409],
    if_match=True,
    etag=True,
)
def propose_invitation(call: Call, session_id: str) -> Reply:
    app = circles()
    invitation_id = app.propose_invitation(
        session_id, call.actor, expected_version=call.expected_version, **call.body
    )
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
