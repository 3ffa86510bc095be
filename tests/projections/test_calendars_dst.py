"""Calendar ends are real ends across clock changes, after a reschedule too (issue 10.1)."""

from __future__ import annotations

from datetime import UTC, timedelta

from projections.store import StoreSettings
from tests.domain.helpers import make_group, plan
from tests.projections.conftest import World
from tests.rebuilt import assert_views_equal_a_rebuild


def test_calendar_ends_are_the_real_end_across_the_clock_change(
    world: World, durable_store: StoreSettings
) -> None:
    gid = make_group(world.app)
    (spring,) = plan(world.app, gid, first_date="2027-03-14", start_time="01:30", count=1)
    (autumn,) = plan(world.app, gid, first_date="2027-11-07", start_time="01:00", count=1)
    world.sync()
    entry = world.views.calendars.session(spring)
    assert entry is not None
    assert entry.ends_at.isoformat() == "2027-03-14T04:00:00-04:00"
    assert entry.ends_at.astimezone(UTC) - entry.starts_at.astimezone(UTC) == timedelta(minutes=90)
    # 01:00 EDT + 90 minutes is 01:30 EST (the second 01:30), moved to the second 01:00.
    entry = world.views.calendars.session(autumn)
    assert entry is not None and entry.ends_at.isoformat() == "2027-11-07T01:30:00-05:00"
    world.app.reschedule_session(autumn, "coord-1", "2027-11-07T01:00-05:00", "an hour on")
    world.sync()
    entry = world.views.calendars.session(autumn)
    assert entry is not None
    assert entry.starts_at.isoformat() == "2027-11-07T01:00:00-05:00"
    assert entry.ends_at.isoformat() == "2027-11-07T02:30:00-05:00"
    assert entry.ends_at == world.app.get_session(autumn).ends_at
    assert_views_equal_a_rebuild(world.app, world.views, durable_store)
