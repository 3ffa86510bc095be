"""Groups: validation at creation, lifecycle, course length, fees."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.application import Circles
from domain.errors import (
    CapacityError,
    CourseLengthError,
    InvalidInputError,
    NotFoundError,
    StaleVersionError,
    WrongStateError,
)
from domain.values import FeeSchedule, GroupStatus, SessionKind
from tests.domain.helpers import FEES, make_group, plan


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"timezone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"timezone": "../../etc/passwd"}, "not an IANA time zone"),
        ({"fees": {**FEES, "session_fee": "-5.00"}}, "cannot be negative"),
        ({"fees": {**FEES, "no_show_fee": 40.0}}, "not a float"),
        ({"fees": {**FEES, "session_fee": "85.001"}}, "more decimal places"),
        ({"fees": {**FEES, "session_fee": "lots"}}, "decimal amount"),
        ({"max_size": 3, "min_size": 4}, "cannot be smaller than min_size"),
        ({"modality": "cbt"}, "modality must be one of"),
        ({"format": "in_person", "room_id": None}, "needs a room_id"),
        ({"format": "online", "room_id": None}, "needs a video_url"),
        ({"format": "online", "room_id": None, "video_url": "http://x.test/a"}, "https://"),
        ({"facilitator_ids": []}, "at least one therapist"),
        ({"currency": "dollars"}, "ISO 4217"),
        ({"name": "  "}, "non-empty"),
        ({"focus_area": "anger"}, "focus_area must be one of"),
    ],
)
def test_create_group_refuses_bad_input_with_a_clear_message(
    app: Circles, overrides: dict, words: str
) -> None:
    with pytest.raises(InvalidInputError, match=words):
        make_group(app, **overrides)


def test_a_refused_command_writes_nothing(app: Circles) -> None:
    before = app.recorder.max_notification_id() or 0
    with pytest.raises(InvalidInputError):
        make_group(app, max_size=2, min_size=3)
    assert (app.recorder.max_notification_id() or 0) == before


def test_group_defaults_and_money_are_exact_decimals(app: Circles) -> None:
    group = app.get_group(make_group(app, opened=False))
    assert (group.max_size, group.min_size, group.guest_limit) == (8, 4, 2)
    assert group.fees.session_fee == Decimal("85.00")
    assert isinstance(group.fees.session_fee, Decimal)
    assert group.fees.billing_code(SessionKind.REGULAR) == "90853"
    assert group.status is GroupStatus.PLANNED


def test_yen_fees_have_no_minor_unit() -> None:
    fees = FeeSchedule.parse(
        "JPY",
        {
            **FEES,
            "session_fee": "8500",
            "maintenance_fee": "6000",
            "no_show_fee": "4000",
            "late_cancel_fee": "3000",
        },
    )
    assert fees.session_fee == Decimal("8500")
    with pytest.raises(InvalidInputError, match="more decimal places than JPY"):
        FeeSchedule.parse("JPY", {**FEES, "session_fee": "85.50"})


def test_group_starts_only_with_min_size_and_full_course(app: Circles) -> None:
    gid = make_group(app, opened=False, min_size=2)
    app.open_group(gid, "coord-1")
    plan(app, gid, count=12)
    app.enroll(gid, "coord-1", "p1", "Pat One")
    with pytest.raises(CapacityError, match="at least 2 enrolled"):
        app.start_group(gid, "coord-1")
    app.enroll(gid, "coord-1", "p2", "Pat Two")
    app.start_group(gid, "coord-1")
    assert app.get_group(gid).status is GroupStatus.RUNNING
    app.complete_group(gid, "coord-1")
    assert app.get_group(gid).status is GroupStatus.COMPLETED
    with pytest.raises(WrongStateError):
        app.enroll(gid, "coord-1", "p3", "Pat Three")


def test_ipt_course_needs_12_to_16_sessions(app: Circles) -> None:
    gid = make_group(app, min_size=1)
    app.enroll(gid, "coord-1", "p1", "Pat")
    plan(app, gid, count=11)
    with pytest.raises(CourseLengthError, match="12–16"):
        app.start_group(gid, "coord-1")
    with pytest.raises(CourseLengthError, match="would make 17"):
        plan(app, gid, first_date="2027-06-01", count=6)
    plan(app, gid, first_date="2027-06-01", count=5)
    app.start_group(gid, "coord-1")


def test_mit_course_refuses_a_17th_session(app: Circles) -> None:
    gid = make_group(app, modality="mit")
    with pytest.raises(CourseLengthError):
        plan(app, gid, count=17)
    assert app.get_group(gid).session_ids == []


def test_length_override_reason_allows_a_longer_course(app: Circles) -> None:
    gid = make_group(app, length_override_reason="clinical lead approved 18 for complex grief")
    assert len(plan(app, gid, count=18)) == 18


def test_maintenance_sessions_do_not_count_toward_course_length(app: Circles) -> None:
    gid = make_group(app)
    plan(app, gid, count=16)
    ids = plan(app, gid, first_date="2027-07-01", cadence="monthly", count=3, kind="maintenance")
    assert {app.get_session(i).kind for i in ids} == {SessionKind.MAINTENANCE}


def test_maintenance_group_is_open_ended_and_monthly(app: Circles) -> None:
    gid = make_group(app, modality="maintenance")
    ids = plan(app, gid, first_date="2027-01-31", cadence="monthly", count=24)
    sessions = [app.get_session(i) for i in ids]
    assert all(s.kind is SessionKind.MAINTENANCE for s in sessions)
    # The 31st is clamped to each month's last day, not skipped.
    assert [s.starts_at.date().isoformat() for s in sessions[:3]] == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
    ]
    with pytest.raises(InvalidInputError, match="maintenance session"):
        plan(app, gid, first_date="2029-06-01", count=1, kind="regular")


def test_dit_is_exactly_16_sessions_within_5_months(app: Circles) -> None:
    gid = make_group(app, modality="dit", min_size=1)
    app.enroll(gid, "coord-1", "p1", "Pat")
    plan(app, gid, count=15)
    with pytest.raises(CourseLengthError, match="exactly 16"):
        app.start_group(gid, "coord-1")
    # The 16th, more than 5 months after the first (2027-03-02), is refused.
    with pytest.raises(CourseLengthError, match="within 5 months"):
        plan(app, gid, first_date="2027-08-03", count=1)
    plan(app, gid, first_date="2027-07-27", count=1)
    app.start_group(gid, "coord-1")


def test_dit_every_two_weeks_breaks_the_5_month_window(app: Circles) -> None:
    gid = make_group(app, modality="dit")
    with pytest.raises(CourseLengthError, match="within 5 months"):
        plan(app, gid, cadence="every_n_weeks", interval=2, count=16)


def test_fee_change_applies_to_sessions_starting_after_it(app: Circles, clock) -> None:
    gid = make_group(app)
    first, second = plan(app, gid, count=2)
    s1, s2 = app.get_session(first), app.get_session(second)
    clock.set(s1.starts_at.astimezone(UTC))  # change made the moment session 1 starts
    app.update_group(gid, "coord-1", fees={**FEES, "session_fee": "95.50"})
    group = app.get_group(gid)
    assert group.fees_for(s1.starts_at).session_fee == Decimal("85.00")
    assert group.fees_for(s2.starts_at).session_fee == Decimal("95.50")


def test_fee_change_cannot_switch_currency(app: Circles) -> None:
    gid = make_group(app)
    with pytest.raises(InvalidInputError, match="bills in USD"):
        app.update_group(gid, "coord-1", currency="EUR", fees=FEES)


def test_capacity_cannot_drop_below_enrolled(app: Circles) -> None:
    gid = make_group(app)
    for i in range(5):
        app.enroll(gid, "coord-1", f"p{i}", f"Patient {i}")
    with pytest.raises(CapacityError, match="below the 5 patients"):
        app.update_group(gid, "coord-1", max_size=4, min_size=2)
    app.update_group(gid, "coord-1", max_size=6)
    assert app.get_group(gid).max_size == 6


def test_stale_expected_version_is_refused(app: Circles) -> None:
    gid = make_group(app)
    version = app.get_group(gid).version
    app.update_group(gid, "coord-1", name="Renamed", expected_version=version)
    with pytest.raises(StaleVersionError):
        app.update_group(gid, "coord-1", name="Again", expected_version=version)


def test_unknown_ids_are_not_found(app: Circles) -> None:
    with pytest.raises(NotFoundError):
        app.open_group("not-a-uuid", "coord-1")
    sid = plan(app, make_group(app), count=1)[0]
    with pytest.raises(NotFoundError, match="no group"):
        app.open_group(sid, "coord-1")


def test_cancel_group_cancels_future_sessions_and_withdraws_patients(app: Circles) -> None:
    gid = make_group(app)
    ids = plan(app, gid, count=12)
    eid, _ = app.enroll(gid, "coord-1", "p1", "Pat")
    app.cancel_group(gid, "coord-1", reason="facilitator on leave")
    assert all(app.get_session(i).is_cancelled for i in ids)
    assert app.get_enrollment(eid).status.value == "withdrawn"
    # The room is free again for another group.
    other = make_group(app, name="Other")
    plan(app, other, count=12)


def test_every_event_records_its_actor(app: Circles) -> None:
    gid = make_group(app, opened=False)
    app.open_group(gid, "coord-2")
    events = app.history(gid)
    assert [e.actor for e in events] == ["coord-1", "coord-2"]
    assert isinstance(events[0].timestamp, datetime)
