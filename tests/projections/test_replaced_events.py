"""Stores written before the lifecycle events had their own names still load and project.

Until the group's lifecycle events were declared, opening, starting and completing a group
were all ``TherapyGroup.StatusChanged`` with the new ``status``. Here the application writes
exactly those records again (topic and state as they were stored) while the scenario runs;
the aggregates, their history and the views must read them as ``Opened``, ``Started`` and
``Completed`` and come out as they would from the new events.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain.group import TherapyGroup
from domain.upcasting import GroupStatusChanged
from domain.values import GroupStatus
from projections.store import StoreSettings
from tests.domain.helpers import plan
from tests.projections.conftest import World
from tests.projections.scenario import populate
from tests.rebuilt import assert_views_equal_a_rebuild

OLD_TOPIC = "domain.group:TherapyGroup.StatusChanged"
LIFECYCLE = {
    TherapyGroup.Opened: GroupStatus.OPEN,
    TherapyGroup.Started: GroupStatus.RUNNING,
    TherapyGroup.Completed: GroupStatus.COMPLETED,
}


def _write_as_before(world: World) -> None:
    """Make the application's mapper store lifecycle events as ``StatusChanged`` was."""
    mapper = world.app.mapper
    to_stored_event = mapper.to_stored_event

    def as_before(domain_event: Any) -> StoredEvent:
        status = LIFECYCLE.get(type(domain_event))
        if status is None:
            return to_stored_event(domain_event)
        old = GroupStatusChanged(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            timestamp=domain_event.timestamp,
            status=status,
            actor=domain_event.actor,
        )
        return replace(to_stored_event(old), topic=OLD_TOPIC)

    mapper.to_stored_event = as_before  # type: ignore[method-assign]


def test_stored_status_changed_events_load_as_what_happened(
    world: World, durable_store: StoreSettings
) -> None:
    app = world.app
    _write_as_before(world)
    populate(app, world.clock)
    running, completed, cancelled = _lifecycle(world)

    stored = [n.topic for n in app.recorder.select_notifications(start=1, limit=100_000)]
    assert stored.count(OLD_TOPIC) == 3 + 2 + 1  # three opened, two started, one completed
    assert not {get_topic(cls) for cls in LIFECYCLE} & set(stored)

    # The aggregates load (from events, and through snapshots taken of upcast events).
    app.repository.cache = None
    assert app.get_group(running).status is GroupStatus.RUNNING
    assert app.get_group(completed).status is GroupStatus.COMPLETED
    assert app.get_group(cancelled).status is GroupStatus.CANCELLED
    history = [type(e) for e in app.history(completed)]
    assert [c for c in history if c in LIFECYCLE] == [
        TherapyGroup.Opened,
        TherapyGroup.Started,
        TherapyGroup.Completed,
    ]

    # The views read the old records too (the runner selects notifications by topic).
    world.sync()
    statuses = {gid: world.views.directory.group(gid) for gid in (running, completed, cancelled)}
    assert {gid: s.status for gid, s in statuses.items() if s} == {
        running: "running",
        completed: "completed",
        cancelled: "cancelled",
    }
    assert_views_equal_a_rebuild(app, world.views, durable_store)


def _lifecycle(world: World) -> tuple[Any, Any, Any]:
    """After the scenario: start two of its groups and complete one of them."""
    app = world.app
    ids = [e.originator_id for e in _group_creations(world)]
    running, completed, cancelled = ids
    for gid in (running, completed):
        plan(app, gid, count=1, first_date="2027-06-01")  # the scenario cancelled one of 12
        app.start_group(gid, "coord-1")
    world.clock.set(world.clock() + timedelta(days=1))
    app.complete_group(completed, "coord-1")
    return running, completed, cancelled


def _group_creations(world: World) -> list[Any]:
    topic = get_topic(TherapyGroup.Created)
    found = world.app.recorder.select_notifications(start=1, limit=100_000, topics=[topic])
    return [world.app.mapper.to_domain_event(n) for n in found]
