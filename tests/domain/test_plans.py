"""Session plans: cadence, closures, DST-correct local times, impossible times."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.application import Circles
from domain.errors import InvalidInputError
from domain.plans import SessionPlan
from domain.values import Cadence
from tests.domain.helpers import make_group, plan


@pytest.mark.parametrize(
    ("zone_name", "first_date", "offsets"),
    [
        # US clocks go forward on 2027-03-14: 18:00 EST (-05) then 18:00 EDT (-04).
        ("America/New_York", "2027-03-02", ["-05:00", "-05:00", "-04:00", "-04:00"]),
        # EU clocks go forward on 2027-03-28 and back on 2027-10-31.
        ("Europe/Berlin", "2027-03-16", ["+01:00", "+01:00", "+02:00", "+02:00"]),
        ("Europe/Berlin", "2027-10-19", ["+02:00", "+02:00", "+01:00", "+01:00"]),
    ],
)
def test_weekly_18_00_stays_18_00_local_across_the_clock_change(
    app: Circles, zone_name: str, first_date: str, offsets: list[str]
) -> None:
    gid = make_group(app, timezone=zone_name)
    ids = plan(app, gid, first_date=first_date, count=12)
    sessions = [app.get_session(i) for i in ids]
    assert all(s.starts_at.astimezone(ZoneInfo(zone_name)).time() == time(18) for s in sessions)
    assert [s.starts_at.isoformat()[-6:] for s in sessions[:4]] == offsets
    assert sessions[0].timezone == zone_name
    # Consecutive sessions are a week apart on the calendar, not 168 hours apart.
    gaps = {sessions[i + 1].starts_at.date() - sessions[i].starts_at.date() for i in range(11)}
    assert gaps == {timedelta(days=7)}


def test_closure_dates_push_the_course_later_and_keep_the_count(app: Circles) -> None:
    gid = make_group(app)
    ids = plan(app, gid, count=12, skip_dates=["2027-03-09", "2027-04-06"])
    dates = [app.get_session(i).starts_at.date() for i in ids]
    assert len(dates) == 12
    assert date(2027, 3, 9) not in dates and date(2027, 4, 6) not in dates
    assert dates[0] == date(2027, 3, 2) and dates[1] == date(2027, 3, 16)
    # Without closures the 12th would be 2027-05-18; two closures push it two weeks on.
    assert dates[-1] == date(2027, 6, 1)
    assert [app.get_session(i).number for i in ids] == list(range(1, 13))


def test_every_n_weeks(app: Circles) -> None:
    gid = make_group(app)
    ids = plan(app, gid, cadence="every_n_weeks", interval=2, count=12)
    dates = [app.get_session(i).starts_at.date() for i in ids]
    assert dates[1] - dates[0] == timedelta(days=14)


def test_a_start_time_that_does_not_exist_on_a_dst_day_is_refused(app: Circles) -> None:
    gid = make_group(app)
    with pytest.raises(InvalidInputError, match="02:30 does not exist on 2027-03-14"):
        plan(app, gid, first_date="2027-03-14", start_time="02:30", count=1)
    assert app.get_group(gid).session_ids == []


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("first_date", "2027-02-30", "must be a date"),
        ("start_time", "25:00", "not a valid time"),
        ("start_time", "6pm", "local time like 18:00"),
        ("duration_minutes", 0, "from 15 to"),
        ("count", 0, "from 1 to"),
        ("cadence", "daily", "cadence must be one of"),
        ("skip_dates", ["soon"], "must be a date"),
    ],
)
def test_bad_plan_fields_are_named(app: Circles, field: str, value: object, words: str) -> None:
    gid = make_group(app)
    with pytest.raises(InvalidInputError, match=words) as caught:
        plan(app, gid, **{field: value})
    assert caught.value.field == field


def test_every_n_weeks_needs_its_interval() -> None:
    with pytest.raises(InvalidInputError, match="needs an interval"):
        SessionPlan.parse("2027-03-02", "18:00", 90, "every_n_weeks", 4)


@settings(max_examples=60, deadline=None)
@given(
    first=st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)),
    hour=st.integers(min_value=6, max_value=21),
    count=st.integers(min_value=1, max_value=20),
    cadence=st.sampled_from(list(Cadence)),
    interval=st.integers(min_value=1, max_value=4),
    skip_offsets=st.sets(st.integers(min_value=0, max_value=120), max_size=5),
    zone_name=st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Sydney", "UTC"]),
)
def test_plans_keep_count_local_time_and_skip_closures(
    first: date,
    hour: int,
    count: int,
    cadence: Cadence,
    interval: int,
    skip_offsets: set[int],
    zone_name: str,
) -> None:
    skips = {first + timedelta(days=d) for d in skip_offsets}
    the_plan = SessionPlan.parse(
        first.isoformat(),
        f"{hour:02d}:00",
        60,
        cadence.value,
        count,
        interval if cadence is Cadence.EVERY_N_WEEKS else None,
        sorted(skips),
    )
    starts = the_plan.starts(ZoneInfo(zone_name))
    assert len(starts) == count
    assert all(s.hour == hour and s.minute == 0 for s in starts)
    assert not {s.date() for s in starts} & skips
    assert starts == sorted(starts) and len(set(starts)) == count
