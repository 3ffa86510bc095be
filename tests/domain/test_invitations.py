"""Significant-other invitations: the state machine, guest limit, following the session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.application import Circles
from domain.errors import CapacityError, NotPermittedError, WrongStateError
from domain.values import InvitationStatus as S
from tests.conftest import Clock
from tests.domain.helpers import make_group, plan

SIGNED = datetime(2027, 1, 3, 15, 0, tzinfo=UTC)


@pytest.fixture
def setting(app: Circles) -> dict:
    gid = make_group(app, facilitator_ids=["t-ana", "t-bo"], guest_limit=2)
    sessions = plan(app, gid, count=12)
    app.enroll(gid, "coord-1", "p1", "Pat One")
    app.enroll(gid, "coord-1", "p2", "Pat Two")
    return {"group": gid, "sessions": sessions}


def propose(app: Circles, session_id, patient: str = "p1", name: str = "Sam") -> object:  # type: ignore[no-untyped-def]
    return app.propose_invitation(session_id, "coord-1", patient, name, "spouse", "sam@example.org")


def through_consent(app: Circles, iid) -> None:  # type: ignore[no-untyped-def]
    app.approve_invitation(iid, "t-ana", therapist_id="t-ana")
    app.record_consent(iid, "coord-1", "Pat One", SIGNED, "scan-2027-001")


def test_the_full_lifecycle_to_attended(app: Circles, clock: Clock, setting: dict) -> None:
    sid = setting["sessions"][0]
    iid = propose(app, sid)
    assert app.get_invitation(iid).status is S.PROPOSED
    through_consent(app, iid)
    assert app.get_invitation(iid).consent == {
        "signed_by": "Pat One",
        "signed_at": SIGNED.astimezone(ZoneInfo("America/New_York")).isoformat(),
        "document_ref": "scan-2027-001",
    }
    app.send_invitation(iid, "coord-1")
    app.respond_to_invitation(iid, accept=True, actor="invitee")
    assert app.get_invitation(iid).status is S.ACCEPTED
    clock.set(app.get_session(sid).starts_at.astimezone(UTC) + timedelta(minutes=10))
    app.record_attendance(sid, "t-ana", [{"invitation_id": str(iid), "status": "present"}])
    assert app.get_invitation(iid).status is S.ATTENDED
    app.record_attendance(sid, "t-ana", [{"invitation_id": str(iid), "status": "absent"}])
    assert app.get_invitation(iid).status is S.NO_SHOW


def test_cannot_send_before_approval_and_consent(app: Circles, setting: dict) -> None:
    iid = propose(app, setting["sessions"][0])
    with pytest.raises(WrongStateError, match="before facilitator approval"):
        app.send_invitation(iid, "coord-1")
    with pytest.raises(WrongStateError, match="after a facilitator has approved"):
        app.record_consent(iid, "coord-1", "Pat One", SIGNED, "doc")
    app.approve_invitation(iid, "t-bo", therapist_id="t-bo")
    with pytest.raises(WrongStateError, match="before written consent"):
        app.send_invitation(iid, "coord-1")


def test_only_a_facilitator_of_the_group_can_approve(app: Circles, setting: dict) -> None:
    iid = propose(app, setting["sessions"][0])
    with pytest.raises(NotPermittedError, match="does not facilitate"):
        app.approve_invitation(iid, "t-zed", therapist_id="t-zed")


def test_only_enrolled_patients_can_invite(app: Circles, setting: dict) -> None:
    with pytest.raises(WrongStateError, match="not enrolled"):
        propose(app, setting["sessions"][0], patient="p-unknown")


def test_guest_limit_counts_pending_and_accepted_guests(app: Circles, setting: dict) -> None:
    sid = setting["sessions"][0]
    first = propose(app, sid, name="A")
    propose(app, sid, patient="p2", name="B")
    with pytest.raises(CapacityError, match="2 of 2 guest places"):
        propose(app, sid, name="C")
    through_consent(app, first)
    app.send_invitation(first, "coord-1")
    app.respond_to_invitation(first, accept=False, actor="invitee")
    assert app.get_invitation(first).status is S.DECLINED
    propose(app, sid, name="C")  # the declined place is free again


def test_revoking_consent_before_the_session(app: Circles, clock: Clock, setting: dict) -> None:
    sid = setting["sessions"][0]
    iid = propose(app, sid)
    through_consent(app, iid)
    app.send_invitation(iid, "coord-1")
    app.revoke_invitation(iid, "coord-1", reason="patient withdrew consent")
    assert app.get_invitation(iid).status is S.REVOKED
    with pytest.raises(WrongStateError):
        app.respond_to_invitation(iid, accept=True, actor="invitee")
    late = propose(app, sid, name="Other")
    clock.set(app.get_session(sid).starts_at.astimezone(UTC) + timedelta(minutes=1))
    with pytest.raises(WrongStateError, match="before the session starts"):
        app.revoke_invitation(late, "coord-1", reason="too late")


def test_a_rescheduled_session_moves_the_invitation(app: Circles, setting: dict) -> None:
    sid = setting["sessions"][0]
    iid = propose(app, sid)
    moved = app.reschedule_session(sid, "coord-1", "2027-03-03T18:00", "therapist ill")
    assert app.get_invitation(iid).session_starts_at == moved.starts_at


def test_a_cancelled_session_cancels_its_invitations(app: Circles, setting: dict) -> None:
    sid = setting["sessions"][0]
    iid = propose(app, sid)
    through_consent(app, iid)
    app.cancel_session(sid, "coord-1", "clinic closed")
    assert app.get_invitation(iid).status is S.CANCELLED
    with pytest.raises(WrongStateError):
        app.send_invitation(iid, "coord-1")


def test_guest_attendance_needs_an_accepted_invitation(
    app: Circles, clock: Clock, setting: dict
) -> None:
    sid = setting["sessions"][0]
    iid = propose(app, sid)
    clock.set(app.get_session(sid).starts_at.astimezone(UTC) + timedelta(minutes=10))
    with pytest.raises(WrongStateError, match="invitation is proposed"):
        app.record_attendance(sid, "t-ana", [{"invitation_id": str(iid), "status": "present"}])
