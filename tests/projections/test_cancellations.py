"""Advance cancellations in the views: roster, rates and charges follow them, a correction
replaces them, a session the clinic cancels drops them; a rebuild gives the same rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from tests.domain.helpers import FEES, make_group, plan
from tests.projections.conftest import World
from tests.rebuilt import assert_views_equal_a_rebuild

D = Decimal


def test_advance_cancellation_shows_in_the_roster_rates_and_charges(world: World) -> None:
    app, views = world.app, world.views
    gid = make_group(app, min_size=1)
    s = plan(app, gid)
    for pid in ("p1", "p2", "p3"):
        app.enroll(gid, "coord-1", pid, f"Patient {pid}")
    world.clock.set(datetime(2027, 3, 2, 12, 0, tzinfo=UTC))  # session 1 is at 23:00 UTC
    app.record_advance_cancellation(s[0], "coord-1", "p1", "2027-02-28T09:00")  # 57 h ahead
    app.record_advance_cancellation(s[0], "coord-1", "p2", "2027-03-02T06:30")  # 11.5 h ahead
    world.sync()
    roster = views.attendance.roster(s[0])
    assert roster is not None
    assert [(p.patient_id, p.status) for p in roster.patients] == [
        ("p1", "excused"),
        ("p2", "late_cancel"),
        ("p3", None),
    ]
    charges = {
        line.patient_id: (line.attendance_status, line.amount) for line in views.costs.lines()
    }
    assert charges == {"p1": ("excused", D("0.00")), "p2": ("late_cancel", D("30.00"))}
    assert views.attendance.patient("p2").overall.counts["late_cancel"] == 1
    assert_views_equal_a_rebuild(app, views, world.views.settings)

    # p2 came after all: the correction replaces the cancellation everywhere.
    world.attend(s[0], p2="present", p3="absent")
    world.sync()
    roster = views.attendance.roster(s[0])
    assert roster is not None
    assert [(p.patient_id, p.status) for p in roster.patients] == [
        ("p1", "excused"),
        ("p2", "present"),
        ("p3", "absent"),
    ]
    charges = {
        line.patient_id: (line.attendance_status, line.amount) for line in views.costs.lines()
    }
    assert charges["p2"] == ("present", D("85.00"))
    p2 = views.attendance.patient("p2").overall
    assert (p2.counts["late_cancel"], p2.counts["present"], p2.recorded) == (0, 1, 1)
    assert_views_equal_a_rebuild(app, views, world.views.settings)


def test_a_session_the_clinic_cancels_drops_its_advance_cancellations(world: World) -> None:
    app, views = world.app, world.views
    gid = make_group(app, min_size=1)
    s = plan(app, gid)
    app.enroll(gid, "coord-1", "p1", "Ann")
    world.clock.set(datetime(2027, 3, 9, 12, 0, tzinfo=UTC))
    app.record_advance_cancellation(s[1], "coord-1", "p1", "2027-03-09T06:00")  # late_cancel
    world.sync()
    assert [line.amount for line in views.costs.lines()] == [D("30.00")]
    app.cancel_session(s[1], "coord-1", "snow day")
    world.sync()
    roster = views.attendance.roster(s[1])
    assert roster is not None and [(p.patient_id, p.status) for p in roster.patients] == [
        ("p1", None)
    ]
    assert views.attendance.patient("p1").overall.recorded == 0
    assert views.costs.lines() == []  # the clinic cancelled: nobody is charged
    # In one batch (as a rebuild reads it) the view ends the same.
    assert_views_equal_a_rebuild(app, views, world.views.settings)


def test_advance_cancellation_moves_with_a_rescheduled_session(world: World) -> None:
    app, views = world.app, world.views
    gid = make_group(app, min_size=1)
    s = plan(app, gid, count=12)
    app.enroll(gid, "coord-1", "p1", "Ann")
    world.clock.set(datetime(2027, 3, 23, 12, 0, tzinfo=UTC))
    # Session 4 (Tuesday 23 March, 18:00 New York); told 10 hours ahead: late_cancel.
    app.record_advance_cancellation(s[3], "coord-1", "p1", "2027-03-23T08:00")
    world.sync()
    # The clinic moves it into April, after a fee rise that applies from 1 April.
    app.update_group(
        gid, "coord-1", fees={**FEES, "late_cancel_fee": "35.00"},
        currency="USD", fees_effective_from=datetime(2027, 4, 1, tzinfo=UTC),
    )  # fmt: skip
    app.reschedule_session(s[3], "coord-1", "2027-04-01T18:00", "therapist ill")
    world.sync()
    [line] = views.costs.lines()
    assert (line.session_date, line.amount) == (date(2027, 4, 1), D("35.00"))
    assert [t.key for t in views.costs.month_totals()] == [("2027-04",)]
    assert_views_equal_a_rebuild(app, views, world.views.settings)
