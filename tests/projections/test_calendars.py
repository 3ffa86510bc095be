"""Calendars per group, patient, therapist, room and invitee, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.domain.helpers import make_group, plan
from tests.projections.conftest import World

NY = ZoneInfo("America/New_York")


def test_group_calendar_keeps_local_time_and_zone_across_dst(world: World) -> None:
    gid = make_group(world.app)
    ids = plan(world.app, gid, count=12)
    world.sync()
    sessions = world.views.calendars.sessions_for_group(gid)
    assert [s.session_id for s in sessions] == ids
    first = sessions[0]
    assert first.starts_at == datetime(2027, 3, 2, 18, 0, tzinfo=NY)
    assert first.ends_at == datetime(2027, 3, 2, 19, 30, tzinfo=NY)
    assert first.timezone == "America/New_York"
    assert (first.number, first.kind, first.status, first.sequence) == (
        1,
        "regular",
        "scheduled",
        0,
    )
    assert (first.room_id, first.facilitator_ids) == ("room-1", ("t-ana",))
    # US clocks change on 2027-03-14: 18:00 local stays 18:00, the UTC instant moves.
    assert all(s.starts_at.hour == 18 and s.starts_at.tzinfo == NY for s in sessions)
    assert sessions[1].starts_at.utcoffset() == timedelta(hours=-5)
    assert sessions[2].starts_at.utcoffset() == timedelta(hours=-4)
    assert world.views.calendars.session(ids[4]) == sessions[4]


def test_reschedule_and_cancel_raise_the_sequence_and_last_change(world: World) -> None:
    gid = make_group(world.app)
    s1, s2, s3 = plan(world.app, gid, count=12)[:3]
    world.sync()
    before = world.views.calendars.session(s2)
    assert before is not None
    world.app.reschedule_session(s2, "coord-1", starts_at="2027-03-10T17:30", reason="holiday")
    world.app.cancel_session(s3, "coord-1", reason="therapist ill")
    world.sync()
    moved = world.views.calendars.session(s2)
    assert moved is not None
    assert moved.starts_at == datetime(2027, 3, 10, 17, 30, tzinfo=NY)
    assert moved.ends_at == datetime(2027, 3, 10, 19, 0, tzinfo=NY)
    assert (moved.sequence, moved.status) == (1, "scheduled")
    assert moved.last_modified > before.last_modified
    world.app.cancel_session(s2, "coord-1", reason="no room")
    world.sync()
    cancelled = world.views.calendars.session(s2)
    assert cancelled is not None
    assert (cancelled.sequence, cancelled.status) == (2, "cancelled")
    third = world.views.calendars.session(s3)
    assert third is not None and (third.sequence, third.status) == (1, "cancelled")
    untouched = world.views.calendars.session(s1)
    assert untouched is not None and untouched.sequence == 0


def test_patient_calendar_follows_enrollment_waitlist_and_withdrawal(world: World) -> None:
    app = world.app
    gid = make_group(app, max_size=2, min_size=1)
    ids = plan(app, gid, count=12)
    e1, _ = app.enroll(gid, "coord-1", "p1", "Pat One")
    app.enroll(gid, "coord-1", "p2", "Pat Two")
    app.enroll(gid, "coord-1", "p3", "Pat Three")  # waitlisted
    world.sync()
    cal = world.views.calendars
    assert [s.session_id for s in cal.sessions_for_patient("p1")] == ids
    assert cal.sessions_for_patient("p3") == []
    # Withdraw p1 between sessions 4 and 5: p1 keeps 1-4, p3 is promoted and gets 5-12
    # (the group has closed to newcomers by then: the coordinator gives a reason).
    world.clock.set(world.start_of(ids[3]) + timedelta(days=1))
    app.withdraw(e1, "coord-1", reason="moved away", admission_override_reason="p3 did the intake")
    world.sync()
    assert [s.session_id for s in cal.sessions_for_patient("p1")] == ids[:4]
    assert [s.session_id for s in cal.sessions_for_patient("p3")] == ids[4:]
    assert [s.session_id for s in cal.sessions_for_patient("p2")] == ids
    assert cal.sessions_for_patient("nobody") == []


def test_therapist_and_room_calendars_filter_by_time_and_page(world: World) -> None:
    app = world.app
    g1 = make_group(app)
    g2 = make_group(app, name="Other", facilitator_ids=["t-bo"], room_id="room-2")
    ids1 = plan(app, g1, count=12)
    ids2 = plan(app, g2, count=12, start_time="10:00")
    world.sync()
    cal = world.views.calendars
    assert [s.session_id for s in cal.sessions_for_therapist("t-ana")] == ids1
    assert [s.session_id for s in cal.sessions_for_room("room-2")] == ids2
    since = datetime(2027, 3, 9, tzinfo=UTC)
    until = datetime(2027, 3, 23, tzinfo=UTC)
    assert [s.number for s in cal.sessions_for_room("room-1", since, until)] == [2, 3]
    page1 = cal.sessions_for_therapist("t-bo", limit=5)
    page2 = cal.sessions_for_therapist("t-bo", after=page1[-1].cursor, limit=5)
    page3 = cal.sessions_for_therapist("t-bo", after=page2[-1].cursor, limit=5)
    assert [s.session_id for s in page1 + page2 + page3] == ids2
    assert len(page3) == 2


def _consented(world: World, session_id: object, patient: str = "p1") -> object:
    app = world.app
    iid = app.propose_invitation(session_id, "coord-1", patient, "Sam", "spouse")
    app.approve_invitation(iid, "coord-1", "t-ana")
    app.record_consent(iid, "coord-1", "Pat One", world.clock(), "doc-1")
    app.send_invitation(iid, "coord-1")
    return iid


def test_invitee_sees_one_session_moved_then_cancelled_or_revoked(world: World) -> None:
    app = world.app
    gid = make_group(app)
    ids = plan(app, gid, count=12)
    app.enroll(gid, "coord-1", "p1", "Pat One")
    moved_then_cancelled = _consented(world, ids[1])
    revoked = _consented(world, ids[2])
    app.respond_to_invitation(moved_then_cancelled, True, "invitee")
    world.sync()
    cal = world.views.calendars
    entry = cal.session_for_invitation(moved_then_cancelled)
    assert entry is not None
    assert (entry.status, entry.session.session_id, entry.session.status) == (
        "accepted",
        ids[1],
        "scheduled",
    )
    app.reschedule_session(ids[1], "coord-1", starts_at="2027-03-10T18:00", reason="holiday")
    app.revoke_invitation(revoked, "coord-1", reason="patient changed their mind")
    world.sync()
    entry = cal.session_for_invitation(moved_then_cancelled)
    assert entry is not None
    assert entry.session.starts_at == datetime(2027, 3, 10, 18, 0, tzinfo=NY)
    assert entry.session.sequence == 1
    gone = cal.session_for_invitation(revoked)
    assert gone is not None
    assert (gone.status, gone.session.status, gone.session.sequence) == ("revoked", "cancelled", 1)
    # The group still sees the revoked guest's session as scheduled.
    session = cal.session(ids[2])
    assert session is not None and session.status == "scheduled"
    app.cancel_session(ids[1], "coord-1", reason="flood")
    world.sync()
    entry = cal.session_for_invitation(moved_then_cancelled)
    assert entry is not None
    assert (entry.status, entry.session.status, entry.session.sequence) == (
        "cancelled",
        "cancelled",
        3,
    )
    assert cal.session_for_invitation(ids[0]) is None


def test_a_patient_who_rejoins_gets_both_periods_of_sessions(world: World) -> None:
    app = world.app
    gid = make_group(app)
    ids = plan(app, gid, count=12)
    e1, _ = app.enroll(gid, "coord-1", "p1", "Pat One")
    world.clock.set(world.start_of(ids[1]) + timedelta(days=1))
    app.withdraw(e1, "coord-1", reason="travel")
    world.clock.set(world.start_of(ids[4]) + timedelta(days=1))
    again, status = app.enroll(
        gid, "coord-1", "p1", "Pat One", admission_override_reason="back from travel"
    )
    assert (again, status.value) == (e1, "enrolled")
    world.sync()
    assert [s.session_id for s in world.views.calendars.sessions_for_patient("p1")] == (
        ids[:2] + ids[5:]
    )
    [row] = world.views.directory.enrollments(gid)
    assert (row.status, row.ended_at) == ("enrolled", None)
