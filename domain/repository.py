"""Loading aggregates for commands: working copies of cached aggregates, and cache-first reads.

The library's repository hands a command a ``deepcopy`` of each cached aggregate, so a
command that fails half-way never corrupts the cache. ``working_copy`` gives the same
guarantee for much less: it copies every mutable container (dicts, lists, sets, and
anything it does not know, by ``deepcopy``) and shares what cannot change (strings,
numbers, enums, datetimes, UUIDs, decimals, tuples of those).
"""

from __future__ import annotations

from copy import deepcopy
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import Repository

T = TypeVar("T")

# Types whose values never change, shared by a copy; enum classes join as they are met
# (a member is a singleton, as ``deepcopy`` knows too).
_IMMUTABLE: set[type] = {
    str, int, float, bool, bytes, type(None), datetime, date, time, timedelta, UUID, Decimal
}  # fmt: skip


def _immutable(kind: type) -> bool:
    if kind in _IMMUTABLE:
        return True
    if issubclass(kind, Enum):
        _IMMUTABLE.add(kind)
        return True
    return False


def _copy(value: Any) -> Any:
    kind = type(value)
    if _immutable(kind):
        return value
    if kind is dict:
        copied = dict(value)
        for key, item in copied.items():
            if not _immutable(type(item)):
                copied[key] = _copy(item)
        return copied
    if kind is list:
        return [item if _immutable(type(item)) else _copy(item) for item in value]
    if kind is tuple:
        if all(_immutable(type(item)) for item in value):
            return value
        return tuple(_copy(item) for item in value)
    if kind is set or kind is frozenset:
        return kind(_copy(item) for item in value)
    return deepcopy(value)


def working_copy(aggregate: T) -> T:
    """An independent copy of ``aggregate`` for a command to change: no mutation of the
    copy (its attributes, or anything inside them) is seen by the original, nor the
    reverse. Immutable parts are shared, not copied."""
    copied = object.__new__(type(aggregate))
    state = cast(dict[str, Any], aggregate.__dict__)
    copied.__dict__.update({name: _copy(value) for name, value in state.items()})
    return copied


class CirclesRepository(Repository[UUID]):
    """The library's repository, copying cached aggregates with ``working_copy``."""

    def get(self, aggregate_id: UUID, **kwargs: Any) -> Any:
        copy_it = kwargs.pop("deepcopy_from_cache", True) and self.deepcopy_from_cache
        aggregate = super().get(aggregate_id, deepcopy_from_cache=False, **kwargs)
        if copy_it and self.cache and kwargs.get("version") is None:
            return working_copy(aggregate)
        return aggregate

    def cached(self, aggregate_id: UUID) -> Any | None:
        """A working copy of the aggregate as this process last saw it — without asking
        the store whether it has changed since — or None if it is not cached. Only for a
        command whose save will check every version it read (see ``cache_first``)."""
        if not self.cache:
            return None
        try:
            aggregate = self.cache.get(aggregate_id)
        except KeyError:
            return None
        return None if aggregate is None else working_copy(aggregate)

    def remember(self, aggregate: Any) -> None:
        """Put a copy of a just-saved aggregate in the cache: this process's next read starts
        from what it wrote (the store still has the last word, see ``cache_first``)."""
        if not self.cache:
            return
        try:
            known = self.cache.get(aggregate.id)
        except KeyError:
            known = None
        if known is None or known.version <= aggregate.version:  # not over a newer one
            self.cache.put(aggregate.id, working_copy(aggregate))
