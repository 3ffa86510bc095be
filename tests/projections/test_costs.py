"""Every charge rule of SPEC §2, with the amounts worked out by hand.

Fees (tests/domain/helpers.FEES): session 85.00, maintenance 60.00, no-show 40.00,
late cancel 30.00. Sessions start Tuesdays 18:00 New York from 2027-03-02, weekly.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from tests.domain.helpers import FEES, make_group, plan
from tests.projections.conftest import World
from tests.rebuilt import assert_views_equal_a_rebuild

NY = ZoneInfo("America/New_York")
D = Decimal


def _usd(world: World, patient_id: str) -> Decimal:
    totals = world.views.costs.statement(patient_id).total_in("USD")
    assert totals is not None
    return totals.total


def _enroll(world: World, gid: object, *patients: str) -> None:
    for pid in patients:
        world.app.enroll(gid, "coord-1", pid, f"Patient {pid}")


def test_each_attendance_status_is_charged_by_its_rule_and_guests_are_free(world: World) -> None:
    app = world.app
    gid = make_group(app)
    s1 = plan(app, gid)[0]
    _enroll(world, gid, "p1", "p2", "p3", "p4", "p5")
    iid = app.propose_invitation(s1, "coord-1", "p1", "Sam", "spouse")
    app.approve_invitation(iid, "coord-1", "t-ana")
    app.record_consent(iid, "coord-1", "Patient p1", world.clock(), "doc-1")
    app.send_invitation(iid, "coord-1")
    app.respond_to_invitation(iid, True, "invitee")
    world.attend(s1, p1="present", p2="late", p3="absent", p4="late_cancel", p5="excused")
    app.record_attendance(s1, "t-ana", [{"invitation_id": str(iid), "status": "present"}])
    world.sync()
    lines = {line.patient_id: line for line in world.views.costs.lines()}
    assert {p: (line.attendance_status, line.amount) for p, line in lines.items()} == {
        "p1": ("present", D("85.00")),
        "p2": ("late", D("85.00")),
        "p3": ("absent", D("40.00")),
        "p4": ("late_cancel", D("30.00")),
        "p5": ("excused", D("0.00")),
    }  # the guest has no line
    line = lines["p1"]
    assert (line.session_id, line.group_id, line.kind, line.billing_code, line.currency) == (
        s1,
        gid,
        "regular",
        "90853",
        "USD",
    )
    assert line.session_date == date(2027, 3, 2)
    assert line.starts_at == datetime(2027, 3, 2, 18, 0, tzinfo=NY)
    [total] = world.views.costs.session_totals()
    assert total.key == (s1, gid, date(2027, 3, 2))
    # 85 + 85 + 40 + 30 + 0 = 240.00; four lines carry a charge.
    assert (total.total, total.lines, total.billable, total.currency) == (D("240.00"), 5, 4, "USD")


def test_maintenance_sessions_have_their_own_fee_and_subtotal(world: World) -> None:
    app = world.app
    course = make_group(app)
    upkeep = make_group(
        app, name="Maintenance", modality="maintenance", facilitator_ids=["t-bo"],
        room_id="room-2", fees={**FEES, "billing_codes": {"maintenance": "90853-M"}},
    )  # fmt: skip
    c1 = plan(app, course)[0]
    m1, m2 = plan(app, upkeep, cadence="monthly", count=2, first_date="2027-03-04")
    _enroll(world, course, "p1")
    _enroll(world, upkeep, "p1")
    world.attend(c1, p1="present")
    world.attend(m1, p1="present")
    world.attend(m2, p1="absent")
    world.sync()
    statement = world.views.costs.statement("p1")
    assert [(line.kind, line.billing_code, line.amount) for line in statement.lines] == [
        ("regular", "90853", D("85.00")),
        ("maintenance", "90853-M", D("60.00")),
        ("maintenance", "90853-M", D("40.00")),  # a missed maintenance session: no-show fee
    ]
    # 85 + 60 + 40 = 185.00, of which maintenance 60 + 40 = 100.00.
    [usd] = statement.totals
    assert (usd.total, usd.maintenance_subtotal, usd.currency) == (D("185.00"), D("100.00"), "USD")
    groups = {t.key[0]: t for t in world.views.costs.group_totals()}
    assert (groups[upkeep].total, groups[upkeep].maintenance_subtotal) == (D("100.00"), D("100.00"))
    assert (groups[course].total, groups[course].maintenance_subtotal) == (D("85.00"), D("0.00"))


def test_a_session_cancelled_by_the_clinic_costs_nothing(world: World) -> None:
    app = world.app
    gid = make_group(app)
    s1, s2 = plan(app, gid)[:2]
    _enroll(world, gid, "p1")
    app.cancel_session(s1, "coord-1", reason="heating broke")
    world.attend(s2, p1="present")
    world.sync()
    assert [line.session_id for line in world.views.costs.lines()] == [s2]
    assert _usd(world, "p1") == D("85.00")


def test_a_fee_change_applies_to_sessions_starting_after_it_even_when_recorded_late(
    world: World,
) -> None:
    app = world.app
    gid = make_group(app)
    s = plan(app, gid)
    _enroll(world, gid, "p1", "p2")
    world.attend(s[0], p1="present", p2="absent")  # 2027-03-02
    world.attend(s[1], p1="present")  # 2027-03-09
    world.attend(s[2], p1="present", p2="absent")  # 2027-03-16: recorded before the change
    world.sync()
    new_fees = {**FEES, "session_fee": "90.00", "no_show_fee": "45.50"}
    app.update_group(
        gid, "coord-1", fees=new_fees, fees_effective_from=datetime(2027, 3, 10, tzinfo=NY)
    )
    world.attend(s[3], p1="late")  # 2027-03-23
    world.sync()
    amounts = [
        (line.session_date.day, line.patient_id, line.amount) for line in world.views.costs.lines()
    ]
    assert amounts == [
        (2, "p1", D("85.00")),
        (2, "p2", D("40.00")),
        (9, "p1", D("85.00")),
        (16, "p1", D("90.00")),  # repriced: the session starts after the change
        (16, "p2", D("45.50")),
        (23, "p1", D("90.00")),
    ]
    # 85 + 40 + 85 + 90 + 45.50 + 90 = 435.50
    assert world.views.costs.group_totals()[0].total == D("435.50")


def test_a_corrected_attendance_replaces_exactly_its_line(world: World) -> None:
    app = world.app
    gid = make_group(app)
    s1, s2 = plan(app, gid)[:2]
    _enroll(world, gid, "p1", "p2")
    world.attend(s1, p1="absent", p2="present")
    world.attend(s2, p1="present", p2="present")
    world.sync()
    before = world.views.costs.lines()
    app.record_attendance(s1, "t-ana", [{"patient_id": "p1", "status": "excused"}])
    world.sync()
    after = world.views.costs.lines()
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert len(changed) == 1
    old, new = changed[0]
    assert (old.patient_id, old.session_id, old.amount) == ("p1", s1, D("40.00"))
    assert (new.attendance_status, new.amount) == ("excused", D("0.00"))
    # p1: 0 + 85 = 85.00; p2: 85 + 85 = 170.00
    assert _usd(world, "p1") == D("85.00")
    assert _usd(world, "p2") == D("170.00")


def test_session_group_and_month_totals_use_the_local_date(world: World) -> None:
    app = world.app
    g1 = make_group(app)
    g2 = make_group(app, name="Late", facilitator_ids=["t-bo"], room_id="room-2")
    s = plan(app, g1)
    late = plan(app, g2, first_date="2027-03-31", start_time="21:00")[0]
    _enroll(world, g1, "p1", "p2")
    _enroll(world, g2, "p3")
    world.attend(s[0], p1="present", p2="absent")  # 03-02: 85 + 40 = 125
    world.attend(s[4], p1="late", p2="late_cancel")  # 03-30: 85 + 30 = 115
    world.attend(late, p3="present")  # 03-31 21:00 local is 04-01 UTC: still March, 85
    world.attend(s[5], p1="present")  # 04-06: 85
    world.sync()
    costs = world.views.costs
    months = [(t.key, t.total, t.lines) for t in costs.month_totals()]
    assert months == [(("2027-03",), D("325.00"), 5), (("2027-04",), D("85.00"), 1)]
    sessions = [(t.key[2], t.total, t.billable) for t in costs.session_totals()]
    assert sessions == [
        (date(2027, 3, 2), D("125.00"), 2),
        (date(2027, 3, 30), D("115.00"), 2),
        (date(2027, 3, 31), D("85.00"), 1),
        (date(2027, 4, 6), D("85.00"), 1),
    ]
    march = costs.group_totals(date(2027, 3, 1), date(2027, 3, 31))
    assert {t.key[0]: t.total for t in march} == {g1: D("240.00"), g2: D("85.00")}
    only_g1 = costs.month_totals(group_id=g1)
    assert [(t.key, t.total) for t in only_g1] == [
        (("2027-03",), D("240.00")),
        (("2027-04",), D("85.00")),
    ]
    assert len(costs.lines(date(2027, 3, 31), date(2027, 4, 30))) == 2


def test_statement_totals_are_per_currency_and_cover_the_period_asked(world: World) -> None:
    """A patient in a USD course and a EUR maintenance group: each currency has its own
    total and maintenance subtotal; nothing adds dollars to euros."""
    app = world.app
    course = make_group(app)
    upkeep = make_group(
        app, name="Berlin maintenance", modality="maintenance", facilitator_ids=["t-bo"],
        room_id="room-b", timezone="Europe/Berlin", currency="EUR",
        fees={**FEES, "maintenance_fee": "55.00"},
    )  # fmt: skip
    c = plan(app, course)  # Tuesdays from 2027-03-02, New York
    m = plan(app, upkeep, cadence="monthly", count=2, first_date="2027-03-04")  # Berlin
    _enroll(world, course, "p1")
    _enroll(world, upkeep, "p1")
    world.attend(c[0], p1="present")  # USD 85.00 on 2027-03-02
    world.attend(m[0], p1="present")  # EUR 55.00 maintenance on 2027-03-04
    world.attend(c[5], p1="absent")  # USD 40.00 on 2027-04-06
    world.attend(m[1], p1="absent")  # EUR 40.00 maintenance (no-show) on 2027-04-04
    world.sync()
    costs = world.views.costs

    def totals(statement: object) -> list[tuple[str, Decimal, Decimal, int]]:
        return [
            (t.currency, t.total, t.maintenance_subtotal, t.lines)
            for t in statement.totals  # type: ignore[attr-defined]
        ]

    everything = costs.statement("p1")
    assert totals(everything) == [
        ("EUR", D("95.00"), D("95.00"), 2),
        ("USD", D("125.00"), D("0.00"), 2),
    ]
    march = costs.statement("p1", date(2027, 3, 1), date(2027, 3, 31))
    assert totals(march) == [("EUR", D("55.00"), D("55.00"), 1), ("USD", D("85.00"), D("0.00"), 1)]
    assert [line.session_id for line in march.lines] == [c[0], m[0]]
    april_4th = costs.statement("p1", date(2027, 4, 4), date(2027, 4, 4))
    assert totals(april_4th) == [("EUR", D("40.00"), D("40.00"), 1)]
    assert costs.statement("p1", date(2027, 5, 1)).totals == []
    # The report's own totals are per currency too, and agree with its sessions.
    report = [(t.key, t.total, t.maintenance_subtotal) for t in costs.currency_totals()]
    assert report == [(("EUR",), D("95.00"), D("95.00")), (("USD",), D("125.00"), D("0.00"))]
    for currency, total in (("EUR", D("95.00")), ("USD", D("125.00"))):
        sessions = [t.total for t in costs.session_totals() if t.currency == currency]
        assert sum(sessions) == total
    assert_views_equal_a_rebuild(app, world.views, world.views.settings)
