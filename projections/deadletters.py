"""Views degrade, never wedge (SPEC §6): a view that cannot apply an event parks it.

The runner applies a batch of events to every view in one transaction. When that fails
with an error that says nothing about the database being unavailable, the batch is applied
again here, carefully: each (event, view) pair in a savepoint of its own, so one view's
failure rolls back only that view's writes for that event. A pair that still fails after
:data:`ATTEMPTS` tries is recorded as a *dead letter* in ``view_dead_letters`` and skipped
for that view only; every other view applies the event, and the tracking position moves on
(Marten's async daemon "skip apply errors", EventStoreDB's parked messages).

Transient errors — the database gone, a lock or statement timeout, a serialization failure
or deadlock (all ``OperationalError``/``InterfaceError`` in sqlite3, psycopg and the
eventsourcing library) — are raised instead: the whole batch rolls back and is tried again
later, and they never become dead letters.

A dead letter holds the view, the notification id, the event's topic, the exception's
class and a *safe* summary: where it was raised (module, function, line) and the SQLSTATE
of a database error. Never the exception's message, which can quote a patient's name or a
value the event carried.
"""

from __future__ import annotations

import sqlite3
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventsourcing import persistence
from eventsourcing.utils import get_topic

from projections.base import Handler, Projection
from projections.db import Tx

ATTEMPTS = 3  # tries of one (event, view) pair before it becomes a dead letter
TABLE = "view_dead_letters"
DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    " view TEXT NOT NULL, notification_id {bigint} NOT NULL, topic TEXT NOT NULL,"
    " error_type TEXT NOT NULL, summary TEXT NOT NULL, attempts INTEGER NOT NULL,"
    " recorded_at {instant} NOT NULL, PRIMARY KEY (view, notification_id))"
)
_COLUMNS = "view, notification_id, topic, error_type, summary, attempts, recorded_at"
_ROOT = Path(__file__).resolve().parent.parent

# (view family name, handler), per event class, in the order the runner applies them.
NamedHandlers = dict[type, list[tuple[str, Handler]]]


@dataclass(frozen=True)
class DeadLetter:
    view: str
    notification_id: int
    topic: str
    error_type: str
    summary: str
    attempts: int
    recorded_at: datetime


def _transient_types() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = [
        sqlite3.OperationalError,  # "database is locked", disk I/O
        persistence.OperationalError,
        persistence.InterfaceError,
        ConnectionError,
        TimeoutError,
    ]
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass
    else:
        # OperationalError covers lock_timeout/statement_timeout (LockNotAvailable,
        # QueryCanceled), SerializationFailure and DeadlockDetected, and a lost server.
        found += [psycopg.OperationalError, psycopg.InterfaceError]
    return tuple(found)


TRANSIENT = _transient_types()


def is_transient(error: BaseException) -> bool:
    """Whether trying again later may succeed: such errors are never dead-lettered."""
    return isinstance(error, TRANSIENT)


def safe_summary(error: BaseException, handler: Callable[..., Any]) -> str:
    """Where ``error`` came from, without its message (which may carry PHI)."""
    where = ""
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(_ROOT) and ".venv" not in path.parts:
            where = f" at {path.relative_to(_ROOT)}:{frame.lineno} in {frame.name}"
            break
    if not where and frames:
        where = f" in {frames[-1].name}"
    sqlstate = getattr(error, "sqlstate", None)
    state = f" (SQLSTATE {sqlstate})" if isinstance(sqlstate, str) else ""
    name = f"{handler.__module__}.{getattr(handler, '__qualname__', repr(handler))}"
    return f"{name} raised {type(error).__name__}{where}{state}"


def apply_carefully(
    tx: Tx, events: Iterable[tuple[int, Any]], handlers: NamedHandlers, now: datetime
) -> list[DeadLetter]:
    """Apply ``events`` pair by pair; record and return the new dead letters.

    ``tx`` must be a write transaction without a pipeline (savepoints need each
    statement's outcome at once).
    """
    letters = []
    for nid, event in events:
        for view, handler in handlers.get(type(event), ()):
            error = _try(tx, nid, event, handler)
            if error is None:
                continue
            letter = DeadLetter(
                view, nid, get_topic(type(event)), type(error).__name__,
                safe_summary(error, handler), ATTEMPTS, now,
            )  # fmt: skip
            if record(tx, letter):
                letters.append(letter)
    return letters


def _try(tx: Tx, nid: int, event: Any, handler: Handler) -> Exception | None:
    """None once ``handler`` applied ``event``; its last error after ATTEMPTS failures."""
    failure: Exception | None = None
    for _ in range(ATTEMPTS):
        try:
            with tx.savepoint("circles_view_event"):
                handler(tx, nid, event)
        except Exception as error:
            if is_transient(error):
                raise
            failure = error
        else:
            return None
    return failure


def record(tx: Tx, letter: DeadLetter) -> bool:
    """Store ``letter``; False if that view already parked that event."""
    tx.execute(
        f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES (?,?,?,?,?,?,?)"
        " ON CONFLICT (view, notification_id) DO NOTHING",
        (letter.view, letter.notification_id, letter.topic, letter.error_type,
         letter.summary, letter.attempts, tx.dialect.instant(letter.recorded_at)),
    )  # fmt: skip
    return tx.rowcount > 0


def letters(tx: Tx, views: Iterable[str] | None = None) -> list[DeadLetter]:
    """The dead letters (of ``views``, default all), by notification id then view."""
    where, params = "", []
    if views is not None:
        params = sorted(views)
        where = f" WHERE view IN ({','.join('?' * len(params))})" if params else " WHERE 1=0"
    rows = tx.all(f"SELECT {_COLUMNS} FROM {TABLE}{where} ORDER BY notification_id, view", params)
    return [
        DeadLetter(r[0], int(r[1]), r[2], r[3], r[4], int(r[5]), tx.dialect.to_instant(r[6]))  # type: ignore[arg-type]
        for r in rows
    ]


def degraded(tx: Tx) -> set[str]:
    """The views with at least one dead letter."""
    return {row[0] for row in tx.all(f"SELECT DISTINCT view FROM {TABLE}")}


def clear(tx: Tx, views: Iterable[str] | None = None) -> None:
    """Forget the dead letters (of ``views``): they are about to be applied again."""
    if views is None:
        tx.execute(f"DELETE FROM {TABLE}")
        return
    names = sorted(views)
    if names:
        tx.execute(f"DELETE FROM {TABLE} WHERE view IN ({','.join('?' * len(names))})", names)


def with_what_they_read(projections: list[Projection], views: Iterable[str]) -> list[Projection]:
    """The families named ``views`` and every family they read, in application order."""
    by_name = {p.name: p for p in projections}
    wanted = set(views)
    pending = list(wanted)
    while pending:
        for name in by_name[pending.pop()].reads:
            if name not in wanted:
                wanted.add(name)
                pending.append(name)
    return [p for p in projections if p.name in wanted]


def replay(
    tx: Tx, app: Any, families: list[Projection], position: int, batch_size: int
) -> list[DeadLetter]:
    """Apply every event up to ``position`` to ``families`` (emptied by the caller), a
    batch at a time, each batch in a savepoint; a batch that fails is applied carefully.
    Returns the dead letters recorded."""
    handlers: NamedHandlers = {}
    for projection in families:
        for cls, handler in projection.handlers.items():
            handlers.setdefault(cls, []).append((projection.name, handler))
    topics = sorted(get_topic(cls) for cls in handlers)
    parked: list[DeadLetter] = []
    after = 0
    while after < position:
        notifications = app.recorder.select_notifications(
            start=after, limit=batch_size, stop=position, topics=topics,
            inclusive_of_start=False,
        )  # fmt: skip
        if not notifications:
            break
        after = notifications[-1].id
        events = [(n.id, app.mapper.to_domain_event(n)) for n in notifications]
        try:
            with tx.savepoint("circles_view_batch"):
                for nid, event in events:
                    for _, handler in handlers.get(type(event), ()):
                        handler(tx, nid, event)
        except Exception as error:
            if is_transient(error):
                raise
            parked += apply_carefully(tx, events, handlers, now())
    return parked


def now() -> datetime:
    return datetime.now(UTC)
