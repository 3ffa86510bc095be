"""Cancelling or completing a group after patients cancelled some of its later sessions ahead.

Both commands change the same enrollment twice — its advance cancellation forgotten with the
session, and the enrollment itself withdrawn or completed — which once loaded two copies of
it into one save: a stale version every time, so the command answered 409 for ever.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.application import Circles
from domain.enrollment import Enrollment
from domain.values import EnrollmentStatus, GroupStatus, SessionStatus
from projections.runner import Projector
from projections.store import StoreSettings
from tests.conftest import Clock
from tests.domain.helpers import make_group, plan
from tests.rebuilt import assert_views_equal_a_rebuild


@pytest.fixture
def running(app: Circles, clock: Clock) -> dict:
    gid = make_group(app)
    sessions = plan(app, gid)
    for patient in ("p1", "p2", "p3", "p4"):
        app.enroll(gid, "coord-1", patient, f"Patient {patient}")
    app.start_group(gid, "coord-1")
    clock.set(datetime(2027, 2, 26, 12, 0, tzinfo=UTC))
    # p1 cancels sessions 1 and 3 ahead, p2 session 2.
    app.record_advance_cancellation(sessions[0], "coord-1", "p1", "2027-02-26T06:00")
    app.record_advance_cancellation(sessions[2], "coord-1", "p1", "2027-02-26T06:05")
    app.record_advance_cancellation(sessions[1], "coord-1", "p2", "2027-02-26T06:10")
    return {"id": gid, "sessions": sessions}


def _enrollment(app: Circles, gid: object, patient: str) -> Enrollment:
    group = app.get_group(gid)
    return app.get_enrollment(group.enrollment_id_of(patient))


def test_cancelling_a_group_after_advance_cancellations_goes_through(
    app: Circles, running: dict
) -> None:
    app.cancel_group(running["id"], "coord-1", "the therapist left")

    assert app.get_group(running["id"]).status is GroupStatus.CANCELLED
    for patient in ("p1", "p2", "p3", "p4"):
        enrollment = _enrollment(app, running["id"], patient)
        assert enrollment.status is EnrollmentStatus.WITHDRAWN
        assert enrollment.attendance == {}  # cancelled sessions leave no mark
    assert all(app.get_session(s).status is SessionStatus.CANCELLED for s in running["sessions"])


def test_completing_a_group_after_advance_cancellations_goes_through(
    app: Circles, running: dict
) -> None:
    app.complete_group(running["id"], "coord-1")

    assert app.get_group(running["id"]).status is GroupStatus.COMPLETED
    for patient in ("p1", "p2"):
        enrollment = _enrollment(app, running["id"], patient)
        assert enrollment.status is EnrollmentStatus.COMPLETED
        assert enrollment.attendance == {}


@pytest.mark.parametrize("action", ["cancel", "complete"])
def test_the_views_follow_and_equal_a_rebuild(
    durable_store: StoreSettings, clock: Clock, action: str
) -> None:
    app = Circles(env=durable_store.eventsourcing_env(), clock=clock)
    views = Projector(app, durable_store)
    try:
        gid = make_group(app)
        sessions = plan(app, gid)
        for patient in ("p1", "p2", "p3", "p4"):
            app.enroll(gid, "coord-1", patient, f"Patient {patient}")
        app.start_group(gid, "coord-1")
        clock.set(datetime(2027, 2, 26, 12, 0, tzinfo=UTC))
        app.record_advance_cancellation(sessions[0], "coord-1", "p1", "2027-02-26T06:00")
        views.catch_up()
        if action == "cancel":
            app.cancel_group(gid, "coord-1", "the therapist left")
        else:
            app.complete_group(gid, "coord-1")
        assert_views_equal_a_rebuild(app, views, durable_store)
        entries = views.calendars.sessions_for_group(gid)
        assert entries and all(e.status == "cancelled" for e in entries)
    finally:
        views.close()
        app.close()
