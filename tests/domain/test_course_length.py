"""Course length and cadence rules of SPEC §2 (issue 10 item 12).

A plan past the modality's upper bound is refused when planned, the lower bound when the
course starts; an override with its reason can be recorded later, as its own event; a
maintenance plan is monthly by default; "monthly" may also mean the same weekday of the
month (the 2nd Tuesday).
"""

from __future__ import annotations

from datetime import date, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.application import Circles
from domain.errors import CourseLengthError, InvalidInputError, WrongStateError
from domain.plans import SessionPlan
from domain.values import Cadence, GroupStatus, SessionKind
from tests.domain.helpers import make_group, plan

NY = ZoneInfo("America/New_York")
TUESDAY = 1


def dates(app: Circles, ids: list[UUID]) -> list[date]:
    return [app.get_session(i).starts_at.date() for i in ids]


@pytest.mark.parametrize(("modality", "most"), [("ipt", 16), ("mit", 16), ("dit", 16)])
def test_a_plan_past_the_modality_upper_bound_is_refused_when_planned(
    app: Circles, modality: str, most: int
) -> None:
    gid = make_group(app, modality=modality, min_size=1)
    with pytest.raises(CourseLengthError, match=f"would make {most + 1}"):
        plan(app, gid, count=most + 1)
    assert app.get_group(gid).session_ids == []
    # Planned in parts, the part that would go past the bound is refused.
    plan(app, gid, count=most - 1)
    with pytest.raises(CourseLengthError, match=f"would make {most + 1}"):
        plan(app, gid, first_date="2027-06-15", count=2)
    assert len(app.get_group(gid).session_ids) == most - 1


def test_the_lower_bound_is_checked_when_the_course_starts_not_when_planned(
    app: Circles,
) -> None:
    gid = make_group(app, min_size=1)
    app.enroll(gid, "coord-1", "p1", "Pat")
    assert len(plan(app, gid, count=4)) == 4  # a first part of the course
    with pytest.raises(CourseLengthError, match="12–16 sessions; 4 are planned"):
        app.start_group(gid, "coord-1")
    plan(app, gid, first_date="2027-04-06", count=8)
    app.start_group(gid, "coord-1")
    assert app.get_group(gid).status is GroupStatus.RUNNING


def test_a_length_override_recorded_later_is_its_own_event_and_allows_a_longer_course(
    app: Circles,
) -> None:
    gid = make_group(app, min_size=1)
    app.enroll(gid, "coord-1", "p1", "Pat")
    plan(app, gid, count=16)
    with pytest.raises(CourseLengthError):
        plan(app, gid, first_date="2027-07-06", count=2)
    app.update_group(
        gid, "coord-7", length_override_reason="clinical lead approved 18 for complex grief"
    )
    last = app.history(gid)[-1]
    assert type(last).__name__ == "LengthOverrideRecorded"
    assert (last.reason, last.actor) == ("clinical lead approved 18 for complex grief", "coord-7")
    assert len(plan(app, gid, first_date="2027-07-06", count=2)) == 2
    app.start_group(gid, "coord-1")
    group = app.get_group(gid)
    assert group.length_override_reason == "clinical lead approved 18 for complex grief"
    assert len(group.session_ids) == 18
    # The same reason again records nothing; a blank one is refused naming the field.
    version = group.version
    app.update_group(
        gid, "coord-7", length_override_reason="clinical lead approved 18 for complex grief"
    )
    assert app.get_group(gid).version == version
    with pytest.raises(InvalidInputError) as caught:
        app.update_group(gid, "coord-7", length_override_reason="   ")
    assert caught.value.field == "length_override_reason"


def test_a_length_override_also_lets_a_short_course_start(app: Circles) -> None:
    gid = make_group(app, min_size=1)
    app.enroll(gid, "coord-1", "p1", "Pat")
    plan(app, gid, count=10)
    with pytest.raises(CourseLengthError):
        app.start_group(gid, "coord-1")
    app.update_group(gid, "coord-1", length_override_reason="two sessions replaced by 1:1s")
    app.start_group(gid, "coord-1")


def test_a_length_override_cannot_be_recorded_on_a_finished_group(app: Circles) -> None:
    gid = make_group(app)
    app.cancel_group(gid, "coord-1", reason="too few referrals")
    with pytest.raises(WrongStateError, match="cancelled"):
        app.update_group(gid, "coord-1", length_override_reason="late")


def test_a_maintenance_plan_defaults_to_monthly(app: Circles) -> None:
    gid = make_group(app, modality="maintenance")
    ids = plan(app, gid, first_date="2027-01-12", cadence=None, count=4)
    assert [d.isoformat() for d in dates(app, ids)] == [
        "2027-01-12",
        "2027-02-12",
        "2027-03-12",
        "2027-04-12",
    ]
    # Maintenance sessions after a course, in an IPT group, are monthly too.
    course = make_group(app, name="Course", facilitator_ids=["t-bo"], room_id="room-2")
    plan(app, course, cadence=None, count=12)  # course sessions: weekly
    assert dates(app, app.get_group(course).session_ids)[1] == date(2027, 3, 9)
    ids = plan(app, course, first_date="2027-07-01", cadence=None, count=3, kind="maintenance")
    assert [d.isoformat() for d in dates(app, ids)] == ["2027-07-01", "2027-08-01", "2027-09-01"]


def test_monthly_weekday_keeps_the_2nd_tuesday_at_local_time_across_dst_and_closures(
    app: Circles,
) -> None:
    gid = make_group(app, modality="maintenance")
    # 2027-02-09 is the 2nd Tuesday of February; the 2nd Tuesday of April is closed.
    ids = plan(
        app,
        gid,
        first_date="2027-02-09",
        cadence="monthly_weekday",
        count=12,
        skip_dates=["2027-04-13"],
    )
    sessions = [app.get_session(i) for i in ids]
    days = [s.starts_at.date() for s in sessions]
    assert len(days) == 12 and date(2027, 4, 13) not in days
    assert all(d.weekday() == TUESDAY and 8 <= d.day <= 14 for d in days)
    assert days[:4] == [date(2027, 2, 9), date(2027, 3, 9), date(2027, 5, 11), date(2027, 6, 8)]
    assert days[-1] == date(2028, 2, 8)  # the closure pushed the course one month on
    # 18:00 in New York all year: EST in winter, EDT in summer.
    assert all(s.starts_at.time() == time(18) and s.starts_at.tzinfo == NY for s in sessions)
    offsets = {s.starts_at.utcoffset() for s in sessions}
    assert offsets == {timedelta(hours=-5), timedelta(hours=-4)}


def test_a_5th_tuesday_is_read_as_the_last_tuesday_of_each_month(app: Circles) -> None:
    gid = make_group(app, modality="maintenance")
    ids = plan(app, gid, first_date="2027-03-30", cadence="monthly_weekday", count=4)
    assert [d.isoformat() for d in dates(app, ids)] == [
        "2027-03-30",
        "2027-04-27",
        "2027-05-25",
        "2027-06-29",
    ]


@settings(max_examples=30, deadline=None)
@given(
    first=st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)),
    count=st.integers(min_value=1, max_value=24),
)
def test_monthly_weekday_is_the_same_weekday_and_week_of_each_month(
    first: date, count: int
) -> None:
    starts = SessionPlan.parse(
        first.isoformat(), "18:00", 60, "monthly_weekday", count
    ).local_dates()
    nth = (first.day - 1) // 7 + 1
    assert starts[0] == first and len(starts) == count
    for day in starts:
        assert day.weekday() == first.weekday()
        if nth == 5:
            assert (day + timedelta(days=7)).month != day.month  # the month's last
        else:
            assert (day.day - 1) // 7 + 1 == nth
    # One session a month, no month skipped.
    months = [d.year * 12 + d.month for d in starts]
    assert months == list(range(months[0], months[0] + count))


def test_a_plan_without_a_cadence_for_course_sessions_is_weekly() -> None:
    the_plan = SessionPlan.parse("2027-03-02", "18:00", 90, None, 3)
    assert the_plan.cadence is Cadence.WEEKLY
    maintenance = SessionPlan.parse(
        "2027-03-02", "18:00", 90, None, 3, kind=SessionKind.MAINTENANCE
    )
    assert maintenance.cadence is Cadence.MONTHLY
