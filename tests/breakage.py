"""A view handler broken on purpose: what dead-letter tests break (SPEC §6).

:func:`broken_handler` swaps one view family's handler of one event class for a wrapper
that first does the real handler's writes (so a rollback has something to undo) and then
raises, for the events ``fails`` picks. The real handlers are back when the block ends:
that is "the fix" a test deploys before retrying the dead letters.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from projections.base import Handler
from projections.runner import Projector
from projections.store import StoreSettings

# What the views raised for a year-1 date before the bounds at the door (issue 9); the
# message is what a dead letter must never store, so tests can look for it.
SECRET = "date value out of range for Ann Patient"


def deterministic_error() -> Exception:
    return OverflowError(SECRET)


def transient_error(store: StoreSettings) -> Callable[[], Exception]:
    """What the store raises when a lock is not granted in time."""
    if store.engine == "postgres":
        from psycopg import errors

        return lambda: errors.LockNotAvailable("canceling statement due to lock timeout")
    return lambda: sqlite3.OperationalError("database is locked")


@dataclass
class Breakage:
    calls: int = 0  # how often the broken handler ran
    raised: list[int] = field(default_factory=list)  # notification ids it raised for


@contextmanager
def broken_handler(
    projector: Projector,
    view: str,
    event_class: type,
    fails: Callable[[Any], bool] = lambda event: True,
    error: Callable[[], Exception] = deterministic_error,
) -> Iterator[Breakage]:
    """Within the block, ``view``'s handler of ``event_class`` raises ``error()`` after its
    writes for each event ``fails(event)`` picks."""
    projection = next(p for p in projector.projections if p.name == view)
    original = projection.handlers[event_class]
    breakage = Breakage()

    def broken(tx: Any, nid: int, event: Any) -> None:
        breakage.calls += 1
        original(tx, nid, event)
        if fails(event):
            breakage.raised.append(nid)
            raise error()

    _swap(projector, view, event_class, original, broken)
    try:
        yield breakage
    finally:
        _swap(projector, view, event_class, broken, original)


def _swap(projector: Projector, view: str, cls: type, old: Handler, new: Handler) -> None:
    projection = next(p for p in projector.projections if p.name == view)
    projection.handlers[cls] = new
    projector.handlers[cls] = [new if h is old else h for h in projector.handlers[cls]]
    projector.named_handlers[cls] = [
        (name, new if h is old and name == view else h) for name, h in projector.named_handlers[cls]
    ]


def failing_times(count: int) -> Callable[[Any], bool]:
    """A ``fails`` that picks the first ``count`` calls, then none (a fault that clears)."""
    left = [count]

    def fails(event: Any) -> bool:
        left[0] -= 1
        return left[0] >= 0

    return fails
