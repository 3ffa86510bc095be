"""SPEC §2 rules at the edges of enrollment (issue 10 items 2, 3, 4 and 9).

Raising capacity seats the waitlist; withdrawal revokes later invitations; a group's end
cancels and frees its later sessions; closed groups. Each scenario runs on SQLite and
PostgreSQL with the views caught up, and ends with the views equal to a clean rebuild.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.admission import WaitingFor, waiting_for
from domain.application import Circles
from domain.errors import AdmissionClosedError, InvalidInputError, OverlapError, WrongStateError
from domain.group import TherapyGroup
from domain.schedule import ResourceDay, utc_days
from domain.session import TherapySession
from domain.values import EnrollmentStatus, GroupStatus, InvitationStatus
from projections.runner import Projector
from projections.store import StoreSettings
from tests.conftest import Clock
from tests.domain.helpers import make_group, plan
from tests.rebuilt import assert_views_equal_a_rebuild

ENROLLED, WAITLISTED = EnrollmentStatus.ENROLLED, EnrollmentStatus.WAITLISTED
SIGNED = datetime(2027, 1, 3, 15, 0, tzinfo=UTC)


@dataclass
class Clinic:
    app: Circles
    views: Projector
    clock: Clock
    store: StoreSettings
    saves: list[list[Any]] = field(default_factory=list)

    def start_of(self, session_id: UUID) -> datetime:
        return self.app.get_session(session_id).starts_at.astimezone(UTC)

    def during(self, session_id: UUID, minutes: int = 10) -> None:
        self.clock.set(self.start_of(session_id) + timedelta(minutes=minutes))

    def enroll(self, group_id: UUID, *patients: str, **extra: Any) -> list[UUID]:
        return [
            self.app.enroll(group_id, "coord-1", p, f"Patient {p}", **extra)[0] for p in patients
        ]

    def status(self, enrollment_id: UUID) -> EnrollmentStatus:
        return self.app.get_enrollment(enrollment_id).status

    def last_save(self) -> list[Any]:
        """The aggregates of the last ``app.save(...)``: one transaction."""
        return self.saves[-1]

    def invite(self, session_id: UUID, patient: str, until: str = "accepted") -> UUID:
        """An invitation from proposal up to ``until`` (proposed, sent or accepted)."""
        app = self.app
        iid = app.propose_invitation(session_id, "coord-1", patient, "Sam", "spouse")
        if until == "proposed":
            return iid
        app.approve_invitation(iid, "t-ana", therapist_id="t-ana")
        app.record_consent(iid, "coord-1", f"Patient {patient}", SIGNED, "scan-1")
        app.send_invitation(iid, "coord-1")
        if until == "accepted":
            app.respond_to_invitation(iid, accept=True, actor="invitee")
        return iid

    def rebuilt(self) -> None:
        assert_views_equal_a_rebuild(self.app, self.views, self.store)


@pytest.fixture
def clinic(durable_store: StoreSettings, clock: Clock) -> Iterator[Clinic]:
    app = Circles(env=durable_store.eventsourcing_env(), clock=clock)
    views = Projector(app, durable_store)
    found = Clinic(app, views, clock, durable_store)
    save = app.save

    def recording_save(*aggregates: Any, **kwargs: Any) -> Any:
        found.saves.append(list(aggregates))
        return save(*aggregates, **kwargs)

    app.save = recording_save  # type: ignore[method-assign]
    yield found
    views.close()
    app.close()


def kinds(aggregates: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for aggregate in aggregates:
        counts[type(aggregate).__name__] = counts.get(type(aggregate).__name__, 0) + 1
    return counts


# --- 2. raising capacity ------------------------------------------------------------------------


def test_raising_capacity_promotes_the_waitlist_first_come_first_served(clinic: Clinic) -> None:
    app = clinic.app
    gid = make_group(app, max_size=2, min_size=1)
    sessions = plan(app, gid, count=12)
    e0, e1, w2, w3, w4 = clinic.enroll(gid, "p0", "p1", "p2", "p3", "p4")
    assert [clinic.status(e) for e in (w2, w3, w4)] == [WAITLISTED] * 3
    clinic.clock.advance(days=2)

    app.update_group(gid, "coord-1", max_size=4)

    # The two seats go to the first two on the waitlist, seated from now, in one save.
    group = app.get_group(gid)
    assert group.enrolled == ["p0", "p1", "p2", "p3"] and group.waitlist == ["p4"]
    assert [clinic.status(e) for e in (w2, w3, w4)] == [ENROLLED, ENROLLED, WAITLISTED]
    assert app.get_enrollment(w2).enrolled_at == clinic.clock.now
    saved = clinic.last_save()
    assert kinds(saved) == {"TherapyGroup": 1, "Enrollment": 2}
    assert {a.id for a in saved} == {gid, w2, w3}
    # A newcomer no longer takes a seat ahead of those who waited: they queue behind p4.
    [late] = clinic.enroll(gid, "p5")
    assert clinic.status(late) is WAITLISTED
    assert app.get_group(gid).waitlist == ["p4", "p5"]

    clinic.views.catch_up()
    rows = {r.patient_id: r for r in clinic.views.directory.enrollments(gid)}
    assert (rows["p2"].status, rows["p3"].status) == ("enrolled", "enrolled")
    assert (rows["p4"].waitlist_position, rows["p5"].waitlist_position) == (1, 2)
    summary = clinic.views.directory.group(gid)
    assert summary is not None and (summary.enrolled_count, summary.waitlist_count) == (4, 2)
    calendar = clinic.views.calendars.sessions_for_patient("p2")
    assert [s.session_id for s in calendar] == sessions
    clinic.rebuilt()


def test_raising_capacity_of_a_closed_group_promotes_only_with_an_override(
    clinic: Clinic,
) -> None:
    app = clinic.app
    gid = make_group(app, max_size=1, min_size=1)
    sessions = plan(app, gid, count=12)
    _, waiting = clinic.enroll(gid, "p0", "p1")
    clinic.during(sessions[1])  # the second meeting has started: closed to newcomers

    app.update_group(gid, "coord-1", max_size=2)
    assert clinic.status(waiting) is WAITLISTED
    assert app.get_group(gid).free_seats == 1
    admission = app.admission_of(app.get_group(gid), clinic.clock.now)
    assert waiting_for(WAITLISTED, admission) is WaitingFor.NEXT_GROUP

    reason = "p1 did the intake before the course began"
    app.update_group(gid, "coord-1", max_size=3, admission_override_reason=reason)
    promoted = app.get_enrollment(waiting)
    assert promoted.status is ENROLLED and promoted.admission_override_reason == reason
    promotion = [e for e in app.history(gid) if type(e).__name__ == "WaitlistPromoted"]
    assert [(e.patient_ids, e.admission_override_reason) for e in promotion] == [(["p1"], reason)]
    clinic.rebuilt()


def test_raising_capacity_under_concurrent_enrollments_never_seats_more_than_capacity(
    durable_store: StoreSettings, clock: Clock
) -> None:
    apps = [Circles(env=durable_store.eventsourcing_env(), clock=clock) for _ in range(4)]
    try:
        gid = make_group(apps[0], max_size=2, min_size=1)
        for p in ("p0", "p1", "w0", "w1", "w2"):
            apps[0].enroll(gid, "coord-1", p, p)

        def act(i: int) -> object:
            if i == 5:
                return apps[i % 4].update_group(gid, "coord-1", max_size=4)
            return apps[i % 4].enroll(gid, "coord-1", f"n{i}", f"New {i}")

        with ThreadPoolExecutor(max_workers=12) as pool:
            list(pool.map(act, range(12)))

        group = apps[1].get_group(gid)
        assert group.max_size == 4 and len(group.enrolled) == 4
        # Whenever the raise landed, the seats went to those already waiting, in order.
        assert group.enrolled == ["p0", "p1", "w0", "w1"]
        assert group.waitlist[0] == "w2" and len(group.waitlist) == 12
        seated = [
            p
            for p in group.enrolled + group.waitlist
            if apps[2].get_enrollment(group.enrollment_id_of(p)).status is ENROLLED
        ]
        assert seated == group.enrolled
    finally:
        for app in apps:
            app.close()


# --- 3. withdrawal revokes later invitations ----------------------------------------------------


def test_withdrawal_revokes_the_patients_invitations_to_later_sessions(clinic: Clinic) -> None:
    app = clinic.app
    gid = make_group(app, guest_limit=2, min_size=1)
    sessions = plan(app, gid, count=12)
    leaving, staying = clinic.enroll(gid, "p1", "p2")
    past = clinic.invite(sessions[0], "p1")
    later = clinic.invite(sessions[3], "p1")
    pending = clinic.invite(sessions[4], "p1", until="proposed")
    others = clinic.invite(sessions[3], "p2")
    clinic.during(sessions[0])
    app.record_attendance(sessions[0], "t-ana", [{"invitation_id": str(past), "status": "present"}])
    clinic.clock.advance(days=1)

    app.withdraw(leaving, "coord-1", reason="moved away")

    statuses = {i: app.get_invitation(i).status for i in (past, later, pending, others)}
    assert statuses == {
        past: InvitationStatus.ATTENDED,  # the past is not rewritten
        later: InvitationStatus.REVOKED,
        pending: InvitationStatus.REVOKED,
        others: InvitationStatus.ACCEPTED,  # another patient's guest keeps their place
    }
    assert app.get_session(sessions[3]).invitation_ids == [others]
    assert app.get_session(sessions[4]).invitation_ids == []
    saved = clinic.last_save()
    assert kinds(saved) == {
        "Enrollment": 1,
        "TherapyGroup": 1,
        "Invitation": 2,
        "TherapySession": 2,
    }

    # At the later session the withdrawn patient's guest cannot be marked present.
    clinic.during(sessions[3])
    with pytest.raises(WrongStateError, match="revoked"):
        app.record_attendance(
            sessions[3], "t-ana", [{"invitation_id": str(later), "status": "present"}]
        )
    app.record_attendance(
        sessions[3], "t-ana", [{"invitation_id": str(others), "status": "present"}]
    )
    assert app.get_enrollment(staying).status is ENROLLED

    clinic.views.catch_up()
    invitee = clinic.views.calendars.session_for_invitation(later)
    assert invitee is not None and invitee.session.status == "cancelled"
    assert invitee.status == "revoked"
    kept = clinic.views.calendars.session_for_invitation(others)
    assert kept is not None and kept.session.status == "scheduled"
    clinic.rebuilt()


# --- 4. a group's end cancels and frees its later sessions -------------------------------------


def _running_group(clinic: Clinic) -> tuple[UUID, list[UUID], list[UUID]]:
    app = clinic.app
    gid = make_group(app, min_size=1, facilitator_ids=["t-ana", "t-bo"])
    sessions = plan(app, gid, count=12)
    enrollments = clinic.enroll(gid, "p1", "p2")
    app.start_group(gid, "coord-1")
    return gid, sessions, enrollments


def _assert_later_sessions_cancelled_and_free(
    clinic: Clinic, gid: UUID, sessions: list[UUID], invitation: UUID
) -> None:
    app = clinic.app
    # Sessions 1-3 met (the third is under way); 4-12 had not started and are cancelled.
    assert [app.get_session(s).is_cancelled for s in sessions] == [False] * 3 + [True] * 9
    assert app.get_invitation(invitation).status is InvitationStatus.CANCELLED
    saved = clinic.last_save()
    assert sum(isinstance(a, TherapySession) for a in saved) == 9
    assert sum(isinstance(a, TherapyGroup) for a in saved) == 1
    # One reservation per therapist and room per UTC day each cancelled session touched.
    later = [app.get_session(s) for s in sessions[3:]]
    touched = {
        (r, d)
        for s in later
        for r in ("t-ana", "t-bo", "room-1")
        for d in utc_days(s.starts_at, s.ends_at)
    }
    assert {(a.resource_id, a.day) for a in saved if isinstance(a, ResourceDay)} == touched
    for day in (a for a in saved if isinstance(a, ResourceDay)):
        assert app.repository.get(day.id).bookings == {}

    # Patients and therapists see them cancelled rather than losing them.
    clinic.views.catch_up()
    calendars = clinic.views.calendars
    for who in (calendars.sessions_for_patient("p1"), calendars.sessions_for_therapist("t-bo")):
        assert [s.session_id for s in who] == sessions
        assert [s.status for s in who] == ["scheduled"] * 3 + ["cancelled"] * 9
    room = calendars.sessions_for_room("room-1")
    assert [s.status for s in room] == ["scheduled"] * 3 + ["cancelled"] * 9

    # Another group can now take that room and those therapists at the same hours.
    other = make_group(app, name="Next course", facilitator_ids=["t-ana", "t-bo"])
    taken = plan(app, other, first_date=f"{app.get_session(sessions[3]).starts_at:%Y-%m-%d}")
    assert len(taken) == 12
    # ...but not the hours the ended group actually met.
    clash = make_group(app, name="Clash", facilitator_ids=["t-ana"])
    with pytest.raises(OverlapError) as refused:
        plan(app, clash, first_date="2027-03-16", count=1)
    assert refused.value.colliding_session_id == str(sessions[2])
    clinic.rebuilt()


def test_completing_a_group_cancels_its_later_sessions_and_frees_their_therapists_and_room(
    clinic: Clinic,
) -> None:
    app = clinic.app
    gid, sessions, enrollments = _running_group(clinic)
    invitation = clinic.invite(sessions[5], "p1")
    clinic.during(sessions[2])

    app.complete_group(gid, "coord-1")

    assert app.get_group(gid).status is GroupStatus.COMPLETED
    assert {clinic.status(e) for e in enrollments} == {EnrollmentStatus.COMPLETED}
    assert kinds(clinic.last_save())["Enrollment"] == 2
    _assert_later_sessions_cancelled_and_free(clinic, gid, sessions, invitation)


def test_cancelling_a_group_cancels_its_later_sessions_and_frees_their_therapists_and_room(
    clinic: Clinic,
) -> None:
    app = clinic.app
    gid, sessions, enrollments = _running_group(clinic)
    invitation = clinic.invite(sessions[5], "p1")
    clinic.during(sessions[2])

    app.cancel_group(gid, "coord-1", reason="facilitator on long leave")

    assert app.get_group(gid).status is GroupStatus.CANCELLED
    assert {clinic.status(e) for e in enrollments} == {EnrollmentStatus.WITHDRAWN}
    _assert_later_sessions_cancelled_and_free(clinic, gid, sessions, invitation)


# --- 9. closed groups ---------------------------------------------------------------------------


def test_a_group_takes_enrollments_only_while_open_or_running(clinic: Clinic) -> None:
    app = clinic.app
    gid = make_group(app, opened=False, min_size=1)
    plan(app, gid, count=12)
    with pytest.raises(WrongStateError, match="open or running group.*planned.*open it"):
        app.enroll(gid, "coord-1", "p1", "Pat")
    with pytest.raises(WrongStateError, match="only an open group can start"):
        app.start_group(gid, "coord-1")
    app.open_group(gid, "coord-1")
    clinic.enroll(gid, "p1")
    app.start_group(gid, "coord-1")
    clinic.enroll(gid, "p2")  # running: still admitting before the second meeting
    app.complete_group(gid, "coord-1")
    with pytest.raises(WrongStateError, match="completed"):
        app.enroll(gid, "coord-1", "p3", "Pat")
    assert len(app.get_group(gid).enrolled) == 2
    clinic.rebuilt()


def test_a_group_closes_to_newcomers_once_its_closing_meeting_has_started(
    clinic: Clinic,
) -> None:
    app = clinic.app
    gid = make_group(app, min_size=1)
    sessions = plan(app, gid, count=12)
    group = app.get_group(gid)
    assert group.admission_closes_after == 2
    admission = app.admission_of(group, clinic.clock.now)
    assert not admission.closed and admission.closes_at == app.get_session(sessions[1]).starts_at

    clinic.clock.set(clinic.start_of(sessions[1]) - timedelta(minutes=1))
    clinic.enroll(gid, "p1")  # a minute before the second meeting: still open
    clinic.clock.advance(minutes=1)
    with pytest.raises(AdmissionClosedError, match="admission_override_reason") as refused:
        app.enroll(gid, "coord-1", "p2", "Pat Two")
    assert refused.value.details["closes_at"] == admission.closes_at.isoformat()
    assert "p2" not in app.get_group(gid).enrolled + app.get_group(gid).waitlist

    reason = "referred by the clinical lead; joined the intake late"
    [late] = clinic.enroll(gid, "p2", admission_override_reason=reason)
    assert app.get_enrollment(late).admission_override_reason == reason
    admitted = [e for e in app.history(gid) if type(e).__name__ == "PatientAdmitted"]
    assert [e.admission_override_reason for e in admitted] == [None, reason]
    with pytest.raises(InvalidInputError, match="admission_override_reason"):
        app.enroll(gid, "coord-1", "p3", "Pat", admission_override_reason="  ")
    clinic.rebuilt()


def test_a_cancelled_meeting_does_not_close_the_group(clinic: Clinic) -> None:
    app = clinic.app
    gid = make_group(app, min_size=1)
    sessions = plan(app, gid, count=12)
    app.cancel_session(sessions[1], "coord-1", reason="snow")
    clinic.during(sessions[1])
    clinic.enroll(gid, "p1")  # only one meeting has been held
    clinic.during(sessions[2])
    with pytest.raises(AdmissionClosedError):
        app.enroll(gid, "coord-1", "p2", "Pat Two")
    clinic.rebuilt()


def test_a_late_withdrawal_leaves_the_waitlist_waiting_for_the_next_group(
    clinic: Clinic,
) -> None:
    app = clinic.app
    gid = make_group(app, max_size=2, min_size=1)
    sessions = plan(app, gid, count=12)
    first, second, waiting, last = clinic.enroll(gid, "p1", "p2", "p3", "p4")
    clinic.during(sessions[4])

    assert app.withdraw(first, "coord-1", reason="moved away") is None
    group = app.get_group(gid)
    assert group.enrolled == ["p2"] and group.waitlist == ["p3", "p4"]
    assert group.free_seats == 1
    admission = app.admission_of(group, clinic.clock.now)
    assert waiting_for(app.get_enrollment(waiting).status, admission) is WaitingFor.NEXT_GROUP
    assert waiting_for(app.get_enrollment(second).status, admission) is None

    # With the coordinator's reason the seat goes to the first who waited.
    reason = "p3 attended the first two meetings as a guest of the programme"
    promoted = app.withdraw(second, "coord-1", reason="work", admission_override_reason=reason)
    assert promoted == waiting
    assert app.get_group(gid).enrolled == ["p3"]
    assert app.get_enrollment(waiting).admission_override_reason == reason
    assert clinic.status(last) is WAITLISTED

    clinic.views.catch_up()
    rows = {r.patient_id: r for r in clinic.views.directory.enrollments(gid)}
    assert (rows["p3"].status, rows["p4"].status, rows["p4"].waitlist_position) == (
        "enrolled", "waitlisted", 1,
    )  # fmt: skip
    # The seat p1 left is still free; a reason alone (no other change) fills it.
    app.update_group(gid, "coord-1", admission_override_reason="p4 did the intake in time")
    assert clinic.status(last) is ENROLLED and app.get_group(gid).free_seats == 0
    clinic.rebuilt()


def test_a_back_dated_seat_is_admitted_as_of_its_date(clinic: Clinic) -> None:
    app = clinic.app
    gid = make_group(app, min_size=1)
    sessions = plan(app, gid, first_date="2026-10-06", count=12)  # moved into Circles
    clinic.clock.set(clinic.start_of(sessions[6]))
    before = clinic.start_of(sessions[0]) - timedelta(days=3)
    [moved_in] = clinic.enroll(gid, "p1", enrolled_since=before)
    assert app.get_enrollment(moved_in).was_enrolled_at(clinic.start_of(sessions[0]))
    with pytest.raises(AdmissionClosedError):
        clinic.enroll(gid, "p2", enrolled_since=clinic.start_of(sessions[1]))
    clinic.rebuilt()


def test_admission_closes_after_defaults_by_modality_and_can_be_changed(clinic: Clinic) -> None:
    app = clinic.app
    defaults = {
        modality: app.get_group(make_group(app, modality=modality)).admission_closes_after
        for modality in ("ipt", "mit", "dit", "maintenance")
    }
    assert defaults == {"ipt": 2, "mit": 2, "dit": 2, "maintenance": None}
    gid = make_group(app, min_size=1, admission_closes_after=4, room_id="room-2")
    sessions = plan(app, gid, count=12)
    clinic.during(sessions[2])
    clinic.enroll(gid, "p1")  # the fourth meeting has not started
    app.update_group(gid, "coord-1", admission_closes_after=3)
    with pytest.raises(AdmissionClosedError):
        app.enroll(gid, "coord-1", "p2", "Pat")
    app.update_group(gid, "coord-1", admission_closes_after=None)
    assert app.get_group(gid).admission_closes_after is None
    clinic.enroll(gid, "p2")  # never closes now
    for bad in (0, -1, "2", True, 2.0, 201):
        with pytest.raises(InvalidInputError, match="admission_closes_after"):
            app.update_group(gid, "coord-1", admission_closes_after=bad)
        with pytest.raises(InvalidInputError, match="admission_closes_after"):
            make_group(app, admission_closes_after=bad)
    clinic.rebuilt()


def test_the_admission_rule_survives_snapshots(durable_store: StoreSettings, clock: Clock) -> None:
    """Groups are snapshotted every few events: a setting made before the snapshot, and the
    modality default of a group that never changed it, both load from a fresh process."""
    app = Circles(env=durable_store.eventsourcing_env(), clock=clock)
    set_once = make_group(app, admission_closes_after=5)
    never_closes = make_group(app, admission_closes_after=None, room_id="room-2")
    default = make_group(app, room_id="room-3")
    for gid in (set_once, never_closes, default):
        for i in range(12):
            app.update_group(gid, "coord-1", name=f"Name {i}")
        assert app.snapshots is not None and list(app.snapshots.get(gid))
    fresh = Circles(env=durable_store.eventsourcing_env(), clock=clock)
    try:
        found = [
            fresh.get_group(g).admission_closes_after for g in (set_once, never_closes, default)
        ]
        assert found == [5, None, 2]
    finally:
        fresh.close()
        app.close()
