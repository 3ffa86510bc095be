"""A plan's preview: what the plan command would create, from its own code, nothing saved."""

from __future__ import annotations

from datetime import date

import pytest

from domain.application import Circles
from domain.errors import InvalidInputError
from tests.domain.helpers import make_group, plan, plan_args


def test_the_preview_is_what_the_plan_then_creates(app: Circles) -> None:
    group = make_group(app)
    version = app.get_group(group).version
    args = plan_args(first_date="2027-03-02", count=12, skip_dates=["2027-03-23", "2027-03-25"])
    preview = app.preview_plan(group, "coord-1", **args)
    assert app.get_group(group).version == version  # nothing saved
    assert app.get_group(group).session_ids == []
    planned = [app.get_session(s) for s in plan(app, group, **args)]
    assert [(s.number, s.starts_at, s.ends_at) for s in preview.sessions] == [
        (s.number, s.starts_at, s.ends_at) for s in planned
    ]
    # 23 March is on the cadence: it pushes session 4 a week later; 25 March is not.
    assert preview.sessions[3].pushed_past == (date(2027, 3, 23),)
    assert preview.sessions[3].starts_at.date() == date(2027, 3, 30)
    assert preview.closures_pushed == [date(2027, 3, 23)]
    assert preview.closures_unused == (date(2027, 3, 25),)


def test_a_clock_change_is_marked_on_the_first_session_after_it(app: Circles) -> None:
    group = make_group(app)  # America/New_York: clocks go forward on 14 March 2027
    preview = app.preview_plan(group, "coord-1", **plan_args(first_date="2027-03-02"))
    marked = [s.number for s in preview.sessions if s.clock_change]
    assert marked == [3]
    assert {f"{s.starts_at:%H:%M}" for s in preview.sessions} == {"18:00"}
    assert preview.sessions[1].starts_at.tzname() == "EST"
    assert preview.sessions[2].starts_at.tzname() == "EDT"


def test_every_collision_is_named_where_the_command_stops_at_the_first(app: Circles) -> None:
    first = make_group(app, facilitator_ids=["t-ana"], room_id="room-1")
    taken = plan(app, first, count=12)
    second = make_group(app, name="Other", facilitator_ids=["t-ana"], room_id="room-1")
    preview = app.preview_plan(
        second, "coord-1", **plan_args(first_date="2027-05-04", start_time="19:00", count=12)
    )
    # 4, 11 and 18 May overlap the first group's sessions 10-12, for therapist and room.
    hit = [s for s in preview.sessions if s.collisions]
    assert [s.number for s in hit] == [1, 2, 3]
    kinds = {(c.resource, c.session_id) for c in hit[0].collisions}
    assert kinds == {("therapist:t-ana", str(taken[9])), ("room:room-1", str(taken[9]))}
    assert hit[0].collisions[0].group_name == "Tuesday evening IPT"
    assert hit[0].collisions[0].label.startswith("#10 on 2027-05-04 18:00 EDT")
    assert len(preview.collisions) == 6


def test_the_course_length_rule_is_reported_not_raised(app: Circles) -> None:
    group = make_group(app)
    preview = app.preview_plan(group, "coord-1", **plan_args(count=20))
    assert preview.course_problem is not None and "12–16" in preview.course_problem
    assert len(preview.sessions) == 20


def test_input_the_command_refuses_is_refused_the_same_way(app: Circles) -> None:
    group = make_group(app)
    with pytest.raises(InvalidInputError, match="does not exist") as caught:
        app.preview_plan(group, "coord-1", **plan_args(first_date="2027-03-14", start_time="02:30"))
    assert caught.value.field == "start_time"
