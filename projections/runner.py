"""The runner: keeps every view caught up with the notification log, exactly once.

It pulls notifications from the application's recorder (the SQLite recorder cannot be a
subscription source; pulling works on every store), decodes them with the application's
mapper, and applies a batch to all views in ONE transaction on the view connection that
also moves the tracking position. Two processes racing over the same events: the one
that takes the tracking row first (``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE``
on PostgreSQL) applies the batch; the other sees the position moved and fetches again.

Embedded (SQLite, memory): ``inline`` — the web process calls :meth:`Projector.catch_up`
after each command, so the next read sees the write. PostgreSQL: a worker runs
:meth:`Projector.run_forever` (LISTEN/NOTIFY plus polling) and a read that follows a write
calls :meth:`Projector.wait_for` with that write's position.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from eventsourcing.application import Application
from eventsourcing.utils import get_topic

from domain.upcasting import replaced_topics
from projections import attendance, calendars, costs, deadletters, directory
from projections.base import Handler, Projection
from projections.db import Tx, ViewDatabase
from projections.deadletters import DeadLetter, NamedHandlers
from projections.store import StoreSettings

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS view_tracking ("
    " name TEXT PRIMARY KEY, position {bigint} NOT NULL, note TEXT)"
)
VIEWS, REBUILD, SCHEMA = "views", "rebuild", "schema"


def all_projections() -> list[Projection]:
    # Calendars first: attendance and costs read the session rows it writes.
    return [
        directory.projection(),
        calendars.projection(),
        attendance.projection(),
        costs.projection(),
    ]


def listen(app: Application[Any], settings: StoreSettings, **params: Any) -> Any:
    """A new autocommit connection that ``LISTEN``s on the channel the application's
    PostgreSQL recorder ``NOTIFY``s in every insert transaction (PostgreSQL delivers it after
    the commit); None when the recorder has no channel (SQLite, memory). ``params`` are
    extra libpq connection parameters (e.g. keepalives)."""
    channel = getattr(app.recorder, "channel_name", None)
    if channel is None:
        return None
    import psycopg
    from psycopg import sql

    conn = psycopg.connect(settings.pg_conninfo, autocommit=True, **params)
    try:
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
    except BaseException:
        conn.close()
        raise
    return conn


class Projector:
    """Catch-up, waiting and the worker loop for all views of one store."""

    def __init__(
        self,
        app: Application[Any],
        settings: StoreSettings,
        batch_size: int = BATCH_SIZE,
        inline: bool | None = None,
        read_ahead: bool = False,
    ) -> None:
        self.app = app
        self.settings = settings
        self.batch_size = batch_size
        # Read and decode the next batch in a thread while this one's writes and commit are
        # waited for (the views' database works, the client would idle): for rebuilds.
        self._reader = (
            ThreadPoolExecutor(1, thread_name_prefix="views-read-ahead") if read_ahead else None
        )
        self._ahead: tuple[int, Future[tuple[list[tuple[int, Any]], int]]] | None = None
        self.inline = settings.engine != "postgres" if inline is None else inline
        self.db = ViewDatabase(settings)
        self.projections = all_projections()
        self.handlers: dict[type, list[Handler]] = {}
        self.named_handlers: NamedHandlers = {}  # the same, with each handler's view
        for projection in self.projections:
            for cls, handler in projection.handlers.items():
                self.handlers.setdefault(cls, []).append(handler)
                self.named_handlers.setdefault(cls, []).append((projection.name, handler))
        handled = {get_topic(cls) for cls in self.handlers}
        self.topics = sorted(handled | replaced_topics(handled))
        self.tables = [t for p in self.projections for t in p.tables]
        self.sealed = {t: c for p in self.projections for t, c in p.sealed.items()}
        self.ddl = [self.db.dialect.ddl(s) for p in self.projections for s in p.ddl]
        # Views sealed under another CIPHER_KEY (or none) cannot be read: start them over.
        definition = "\n".join([self.db.dialect.VERSION, *self.ddl, self.db.sealer.key_check])
        self.fingerprint = hashlib.sha256(definition.encode()).hexdigest()[:16]
        self.ensure_tables()
        self.calendars = calendars.CalendarView(self.db)
        self.attendance = attendance.AttendanceView(self.db)
        self.costs = costs.costs_view(self.db)
        self.directory = directory.DirectoryView(self.db)

    # --- schema -------------------------------------------------------------------------------

    def _lock_schema(self, tx: Tx) -> None:
        if self.db.is_postgres:  # concurrent CREATE IF NOT EXISTS can collide in PostgreSQL
            # Sent now, as a read: a queued write would take the lock only at commit, after
            # the fingerprint check it is meant to protect.
            tx.one("SELECT pg_advisory_xact_lock(?)", (0x43697263,))

    def ensure_tables(self) -> None:
        """Create the view tables; if their definition changed, start them over from zero."""
        with self.db.write() as tx:
            self._lock_schema(tx)
            tx.execute(self.db.dialect.ddl(TRACKING_DDL))
            row = tx.one("SELECT note FROM view_tracking WHERE name=?", (SCHEMA,))
            # After the read: psycopg's pipeline can hand a SELECT's cursor the status of a
            # DDL statement still in flight before it (seen with two CREATEs in a row).
            tx.execute(self.db.dialect.ddl(deadletters.DDL))
            if row is not None and row[0] != self.fingerprint:
                log.warning(
                    "view definitions (or CIPHER_KEY) changed:"
                    " views start over from the first event"
                )
                self._reset(tx, mark_rebuild=False)
                return
            for statement in self.ddl:
                tx.execute(statement)
            self._put(tx, VIEWS, 0, None, replace=False)
            self._put(tx, SCHEMA, 0, self.fingerprint, replace=True)

    def _put(self, tx: Tx, name: str, position: int, note: str | None, replace: bool) -> None:
        action = (
            "UPDATE SET position=excluded.position, note=excluded.note" if replace else "NOTHING"
        )
        tx.execute(
            f"INSERT INTO view_tracking VALUES (?,?,?) ON CONFLICT (name) DO {action}",
            (name, position, note),
        )

    def _reset(self, tx: Tx, mark_rebuild: bool) -> None:
        """Drop and recreate every view table and rewind tracking, in the caller's transaction."""
        for table in self.tables:
            tx.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in self.ddl:
            tx.execute(statement)
        deadletters.clear(tx)  # every event is applied again
        self._put(tx, VIEWS, 0, None, replace=True)
        self._put(tx, SCHEMA, 0, self.fingerprint, replace=True)
        if mark_rebuild:
            self._put(tx, REBUILD, 0, "in progress", replace=True)

    # --- rebuild state ------------------------------------------------------------------------

    def begin_rebuild(self) -> None:
        """Empty every view and rewind to the first event, atomically; marks a rebuild."""
        with self.db.write() as tx:
            self._lock_schema(tx)
            self._lock_position(tx)
            self._reset(tx, mark_rebuild=True)

    def rebuild_in_progress(self) -> bool:
        with self.db.read() as tx:
            return tx.one("SELECT 1 FROM view_tracking WHERE name=?", (REBUILD,)) is not None

    def finish_rebuild(self) -> None:
        with self.db.write() as tx:
            tx.execute("DELETE FROM view_tracking WHERE name=?", (REBUILD,))

    # --- catching up --------------------------------------------------------------------------

    def position(self) -> int:
        """The last notification id reflected in the views."""
        with self.db.read() as tx:
            row = tx.one("SELECT position FROM view_tracking WHERE name=?", (VIEWS,))
        return 0 if row is None else int(row[0])

    def head(self) -> int:
        """The last notification id in the event store."""
        return int(self.app.recorder.max_notification_id() or 0)

    def _lock_position(self, tx: Tx) -> int:
        suffix = " FOR UPDATE" if self.db.is_postgres else ""
        row = tx.one(f"SELECT position FROM view_tracking WHERE name=?{suffix}", (VIEWS,))
        assert row is not None, "view_tracking has no position row"
        return int(row[0])

    def _fetch(self, after: int) -> tuple[list[tuple[int, Any]], int]:
        """Decoded events after ``after`` that some view handles, and the position they reach.

        Events no view reads (e.g. room bookings) are skipped by topic in the query; the
        position still moves past them, up to the head read before the query.
        """
        head = self.head()
        if head <= after:
            return [], after
        notifications = self.app.recorder.select_notifications(
            start=after, limit=self.batch_size, stop=head, topics=self.topics,
            inclusive_of_start=False,
        )  # fmt: skip
        reached = notifications[-1].id if len(notifications) == self.batch_size else head
        to_event = self.app.mapper.to_domain_event
        return [(n.id, to_event(n)) for n in notifications], reached

    def _apply(self, tx: Tx, events: Iterable[tuple[int, Any]]) -> None:
        handlers = self.handlers
        for nid, event in events:
            for handler in handlers.get(type(event), ()):
                handler(tx, nid, event)

    def _fetch_next(self, after: int) -> tuple[list[tuple[int, Any]], int]:
        """``_fetch(after)``, taken from the read-ahead if it started there."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            start, future = ahead
            if start == after:
                return future.result()
            future.cancel()
        return self._fetch(after)

    def step(self) -> bool:
        """Apply at most one batch. False when there was nothing to do.

        If the batch fails for a reason other than the database (a handler's bug, a value
        a view cannot store), it is applied again event by event and view by view, and
        what still fails becomes a dead letter (:mod:`projections.deadletters`).
        """
        expected = self.position()
        events, reached = self._fetch_next(expected)
        if reached == expected:
            return False
        try:
            with self.db.write() as tx:
                if self._lock_position(tx) != expected:
                    return True  # another process got there first: fetch again from there
                self._apply(tx, events)
                if self._reader is not None:  # reads the log only; for a batch starting there
                    self._ahead = (reached, self._reader.submit(self._fetch, reached))
                tx.execute("UPDATE view_tracking SET position=? WHERE name=?", (reached, VIEWS))
        except Exception as error:
            if deadletters.is_transient(error):
                raise
            self._step_carefully(expected, events, reached)
        return True

    def _step_carefully(self, expected: int, events: list[tuple[int, Any]], reached: int) -> None:
        self._ahead = None
        with self.db.write(pipeline=False) as tx:
            if self._lock_position(tx) != expected:
                return
            parked = deadletters.apply_carefully(tx, events, self.named_handlers, deadletters.now())
            tx.execute("UPDATE view_tracking SET position=? WHERE name=?", (reached, VIEWS))
        self._log(parked)

    @staticmethod
    def _log(parked: list[DeadLetter]) -> None:
        """Once per dead letter, after it is committed (a rolled-back one is tried again)."""
        for letter in parked:
            log.error(
                "view %s skipped event %d (%s): %s; dead letter recorded, the view is degraded",
                letter.view, letter.notification_id, letter.topic, letter.summary,
            )  # fmt: skip

    def catch_up(self) -> int:
        """Process everything available now; returns the position reached."""
        while self.step():
            pass
        return self.position()

    def wait_for(self, position: int | None = None, timeout: float = 5.0) -> bool:
        """Bounded wait until the views reflect ``position`` (default: the store's head).

        Inline (embedded) projectors catch up themselves; otherwise the worker does and
        this polls. Returns False if the views are still behind after ``timeout`` seconds.
        """
        target = self.head() if position is None else position
        if self.position() >= target:
            return True
        if self.inline:
            self.catch_up()
            return self.position() >= target
        deadline = time.monotonic() + timeout
        pause = 0.002
        while time.monotonic() < deadline:
            time.sleep(pause)
            if self.position() >= target:
                return True
            pause = min(pause * 2, 0.05)
        return self.position() >= target

    def run_forever(self, stop_event: threading.Event, poll_interval: float = 1.0) -> None:
        """The worker loop: catch up, then sleep until notified (PostgreSQL) or polled."""
        listener = self._listen() if self.db.is_postgres else None
        try:
            while not stop_event.is_set():
                try:
                    self.catch_up()
                except Exception:
                    log.exception("projection catch-up failed; retrying")
                    stop_event.wait(poll_interval)
                    continue
                if listener is not None:
                    for _ in listener.notifies(timeout=poll_interval, stop_after=1):
                        pass
                else:
                    stop_event.wait(poll_interval)
        finally:
            if listener is not None:
                listener.close()

    def _listen(self) -> Any:
        return listen(self.app, self.settings)

    # --- dead letters -------------------------------------------------------------------------

    def dead_letters(self, views: Iterable[str] | None = None) -> list[DeadLetter]:
        with self.db.read() as tx:
            return deadletters.letters(tx, views)

    def degraded_views(self) -> set[str]:
        """The views that skipped an event (each has at least one dead letter)."""
        with self.db.read() as tx:
            return deadletters.degraded(tx)

    def retry_dead_letters(self) -> tuple[list[str], list[DeadLetter]]:
        """Replay the view families that have dead letters (and those they read) from the
        first event up to the current position; returns the families replayed and the dead
        letters that remain (those whose cause is not fixed yet).

        One transaction holding the position: the worker waits, and readers see the old
        views (SQLite) or wait for the replayed tables (PostgreSQL) until it commits.
        """
        with self.db.write(pipeline=False) as tx:
            position = self._lock_position(tx)
            families = deadletters.with_what_they_read(self.projections, deadletters.degraded(tx))
            if not families:
                return [], []
            for table in [t for p in families for t in p.tables]:
                tx.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in [self.db.dialect.ddl(s) for p in families for s in p.ddl]:
                tx.execute(statement)
            names = [p.name for p in families]
            deadletters.clear(tx, names)
            parked = deadletters.replay(tx, self.app, families, position, self.batch_size)
        self._log(parked)
        return names, self.dead_letters()

    # --- inspection ---------------------------------------------------------------------------

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every view row, sorted: what 'two ways of building the views agree' compares.

        Sealed values are opened (each sealing draws a fresh nonce, so two builds of the
        same view hold different ciphertexts of the same values)."""
        found = {}
        with self.db.read() as tx:
            for table in self.tables:
                rows = tx.all(f"SELECT * FROM {table}")
                names = [c[0] for c in tx.cursor.description or ()]
                sealed = {i: n for i, n in enumerate(names) if n in self.sealed.get(table, ())}
                opened = [self.db.sealer.open_row(r, sealed) for r in rows]
                found[table] = sorted(opened, key=repr)
        return found

    def close(self) -> None:
        if self._reader is not None:
            self._ahead = None
            self._reader.shutdown(wait=True, cancel_futures=True)
        self.db.close()
