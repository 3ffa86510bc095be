"""Enrollment: capacity, FIFO waitlist, promotion, duplicates, intake, concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from domain.application import Circles
from domain.errors import DuplicateError, InvalidInputError, WrongStateError
from domain.values import EnrollmentStatus, ProblemArea
from projections.store import StoreSettings
from tests.conftest import Clock
from tests.domain.helpers import make_group

ENROLLED, WAITLISTED = EnrollmentStatus.ENROLLED, EnrollmentStatus.WAITLISTED


def test_enroll_up_to_capacity_then_waitlist_in_order(app: Circles) -> None:
    gid = make_group(app, max_size=3, min_size=1)
    results = [app.enroll(gid, "coord-1", f"p{i}", f"Patient {i}") for i in range(5)]
    assert [status for _, status in results] == [ENROLLED] * 3 + [WAITLISTED] * 2
    group = app.get_group(gid)
    assert group.enrolled == ["p0", "p1", "p2"]
    assert group.waitlist == ["p3", "p4"]


def test_withdrawal_promotes_the_first_waitlisted_patient(app: Circles, clock: Clock) -> None:
    gid = make_group(app, max_size=2, min_size=1)
    first, _ = app.enroll(gid, "coord-1", "p0", "Patient 0")
    app.enroll(gid, "coord-1", "p1", "Patient 1")
    w1, _ = app.enroll(gid, "coord-1", "p2", "Patient 2")
    w2, _ = app.enroll(gid, "coord-1", "p3", "Patient 3")
    clock.advance(days=3)
    promoted = app.withdraw(first, "coord-1", reason="moved away")
    assert promoted == w1
    assert app.get_enrollment(w1).status is ENROLLED
    assert app.get_enrollment(w1).enrolled_at == clock.now
    assert app.get_enrollment(w2).status is WAITLISTED
    withdrawn = app.get_enrollment(first)
    assert withdrawn.status is EnrollmentStatus.WITHDRAWN
    assert withdrawn.end_reason == "moved away"
    assert app.get_group(gid).enrolled == ["p1", "p2"]
    assert app.get_group(gid).waitlist == ["p3"]


def test_a_waitlisted_patient_who_withdraws_promotes_no_one(app: Circles) -> None:
    gid = make_group(app, max_size=1, min_size=1)
    app.enroll(gid, "coord-1", "p0", "Patient 0")
    waiting, _ = app.enroll(gid, "coord-1", "p1", "Patient 1")
    assert app.withdraw(waiting, "coord-1", reason="found another group") is None
    assert app.get_group(gid).enrolled == ["p0"]


def test_a_patient_cannot_be_enrolled_twice(app: Circles) -> None:
    gid = make_group(app, max_size=1, min_size=1)
    app.enroll(gid, "coord-1", "p0", "Patient 0")
    app.enroll(gid, "coord-1", "p1", "Patient 1")
    with pytest.raises(DuplicateError, match="already enrolled"):
        app.enroll(gid, "coord-1", "p0", "Patient 0")
    with pytest.raises(DuplicateError, match="waitlist"):
        app.enroll(gid, "coord-1", "p1", "Patient 1")


def test_withdrawing_twice_is_refused(app: Circles) -> None:
    gid = make_group(app)
    eid, _ = app.enroll(gid, "coord-1", "p0", "Patient 0")
    app.withdraw(eid, "coord-1", reason="moved")
    with pytest.raises(WrongStateError, match="already withdrawn"):
        app.withdraw(eid, "coord-1", reason="again")


def test_intake_records_primary_area_and_inventory(app: Circles) -> None:
    gid = make_group(app)
    eid, _ = app.enroll(gid, "coord-1", "p0", "Patient 0")
    app.record_intake(eid, "coord-1", primary_area="grief", inventory_done=True)
    enrollment = app.get_enrollment(eid)
    assert enrollment.primary_area is ProblemArea.GRIEF and enrollment.inventory_done
    with pytest.raises(InvalidInputError, match="primary_area must be one of"):
        app.record_intake(eid, "coord-1", primary_area="anger", inventory_done=True)
    with pytest.raises(InvalidInputError, match="inventory must be done"):
        app.record_intake(eid, "coord-1", primary_area="grief", inventory_done=False)


def test_completing_a_group_completes_enrollments(app: Circles, clock: Clock) -> None:
    from tests.domain.helpers import plan

    gid = make_group(app, max_size=1, min_size=1)
    seated, _ = app.enroll(gid, "coord-1", "p0", "Patient 0")
    waiting, _ = app.enroll(gid, "coord-1", "p1", "Patient 1")
    plan(app, gid, count=12)
    app.start_group(gid, "coord-1")
    app.complete_group(gid, "coord-1")
    assert app.get_enrollment(seated).status is EnrollmentStatus.COMPLETED
    assert app.get_enrollment(waiting).status is EnrollmentStatus.WITHDRAWN


def test_twenty_concurrent_enrollments_into_three_free_seats(
    durable_store: StoreSettings, clock: Clock
) -> None:
    apps = [Circles(env=durable_store.eventsourcing_env(), clock=clock) for _ in range(4)]
    gid = make_group(apps[0], max_size=5, min_size=1)
    apps[0].enroll(gid, "coord-1", "early-1", "Early One")
    apps[0].enroll(gid, "coord-1", "early-2", "Early Two")

    def enroll(i: int) -> EnrollmentStatus:
        return apps[i % 4].enroll(gid, "coord-1", f"p{i}", f"Patient {i}")[1]

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(enroll, range(20)))
    assert outcomes.count(ENROLLED) == 3
    assert outcomes.count(WAITLISTED) == 17
    group = apps[1].get_group(gid)
    assert len(group.enrolled) == 5 and len(group.waitlist) == 17
    statuses = [apps[2].get_enrollment(e).status for e in group.enrollment_ids.values()]
    assert statuses.count(ENROLLED) == 5
    for a in apps:
        a.close()


def test_a_withdrawn_patient_can_rejoin_and_keeps_past_periods(app: Circles, clock: Clock) -> None:
    from datetime import UTC, timedelta

    from tests.domain.helpers import plan

    gid = make_group(app, max_size=2, min_size=1)
    s = plan(app, gid, count=12)
    starts = [app.get_session(i).starts_at.astimezone(UTC) for i in s]
    eid, _ = app.enroll(gid, "coord-1", "p1", "Pat")
    clock.set(starts[0] + timedelta(days=1))
    app.withdraw(eid, "coord-1", reason="surgery")
    clock.set(starts[2] + timedelta(days=1))
    # The group has closed to newcomers by now: coming back needs the coordinator's reason.
    again, status = app.enroll(
        gid, "coord-1", "p1", "Pat", admission_override_reason="back after surgery"
    )
    assert again == eid and status is ENROLLED
    enrollment = app.get_enrollment(eid)
    assert enrollment.was_enrolled_at(starts[0])
    assert not enrollment.was_enrolled_at(starts[1])
    assert not enrollment.was_enrolled_at(starts[2])
    assert enrollment.was_enrolled_at(starts[3])
    assert [type(e).__name__ for e in app.history(eid)] == ["Created", "Withdrawn", "Rejoined"]
