"""Stored events of classes no longer written, read as the events that replaced them.

Upcasting *within* a class is the library's ``class_version`` and ``upcast_vN_vN+1``
(``ResourceDay.Booked`` is at version 2). An event class that was split in two or more,
named for what happened, cannot be upcast that way: which new class an old record
becomes depends on its state. So the old class is kept here, out of the aggregate, under
its old topic (``register_topic``, the library's way of resolving a moved or renamed
class), and :class:`UpcastingMapper` hands on what ``upcast()`` makes of each one. Nothing
past the mapper — aggregates, views, the history — ever sees an old class.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic, register_topic

from domain.group import TherapyGroup
from domain.values import GroupStatus


class Replaced(Aggregate.Event):
    """A stored event of a class no longer written."""

    # The topic the stored records carry, and the classes they are read as.
    old_topic: ClassVar[str]
    becomes: ClassVar[tuple[type[Aggregate.Event], ...]]

    def upcast(self) -> Aggregate.Event:
        raise NotImplementedError

    def _as(self, cls: type[Aggregate.Event], *dropped: str) -> Aggregate.Event:
        # As the mapper builds an event: no __init__, the state is the instance dict.
        state = {k: v for k, v in self.__dict__.items() if k not in dropped}
        new = object.__new__(cls)
        object.__setattr__(new, "__dict__", state)
        return new


class GroupStatusChanged(Replaced):
    """``TherapyGroup.StatusChanged``: one setter for opening, starting and completing a
    group, until each became its own event (cancelling always had its own)."""

    old_topic = "domain.group:TherapyGroup.StatusChanged"
    becomes = (TherapyGroup.Opened, TherapyGroup.Started, TherapyGroup.Completed)

    status: GroupStatus
    actor: str

    def upcast(self) -> Aggregate.Event:
        new = {
            GroupStatus.OPEN: TherapyGroup.Opened,
            GroupStatus.RUNNING: TherapyGroup.Started,
            GroupStatus.COMPLETED: TherapyGroup.Completed,
        }[self.status]
        return self._as(new, "status")


REPLACED: tuple[type[Replaced], ...] = (GroupStatusChanged,)
for _old in REPLACED:
    register_topic(_old.old_topic, _old)


def replaced_topics(handled: set[str]) -> set[str]:
    """The old topics whose records are read as one of the ``handled`` topics: a reader
    that selects notifications by topic must select these too."""
    return {
        old.old_topic for old in REPLACED if any(get_topic(new) in handled for new in old.becomes)
    }


class UpcastingMapper(Mapper[UUID]):
    """The library's mapper, handing on a replaced event's ``upcast()``."""

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        domain_event: Any = super().to_domain_event(stored_event)
        if isinstance(domain_event, Replaced):
            upcast: DomainEventProtocol[UUID] = domain_event.upcast()
            return upcast
        return domain_event
