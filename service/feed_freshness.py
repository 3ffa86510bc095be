"""Has anything been written since? The event store's head as the feed cache sees it.

The feed body cache (:mod:`service.feeds`) keeps a rendered body with a *head token* taken
before rendering and serves it while the token has not moved. On SQLite and in memory the
token is the store's ``max(notification id)``: one query per request, microseconds on a
local file, and no NOTIFY to listen to. On PostgreSQL that query is a network round trip,
most of a ``304``'s cost (SPEC §7 B3), so there the token is a local *generation* that
moves whenever the store's head moves past what this process already knows:

- **this process's writes** move it synchronously: the application calls back with the last
  notification id after each save has committed and before the command is answered, so the
  next read made through this process misses the cache (read-your-writes needs no
  notification);
- **other processes' writes** (other gunicorn workers, other hosts, the CLI) move it through
  one background thread per process holding one connection that listens (``LISTEN``) on the
  channel eventsourcing's PostgreSQL recorder notifies (``NOTIFY``) in every insert
  transaction. PostgreSQL delivers a notification only after that commits; the thread then
  reads ``max(notification id)`` on its own connection and moves the generation if the head
  is new to it. So a request that sees the new generation also sees the new events, and a
  notification for this process's own write (already counted) or for another schema's table
  of the same name (the channel is per database) costs no cache miss.

**Staleness bound.** A write made elsewhere shows in this process's feeds once its
notification has arrived and the thread has read the head: the notification latency plus
one round trip on an idle connection, about a millisecond on one host. The generation is
trusted only while the listener is known to be connected: it reads the head every
``CHECK_SECONDS`` anyway (which also catches a write whose notification never came) and
counts as connected for ``LEASE_SECONDS`` after each answer. Before the first connection
(the thread starts on the first feed request, after gunicorn has forked), after an error,
or when the lease lapses because the connection hangs silently, every request goes back to
the per-request query. So a feed is never stale by more than that latency, or by
``LEASE_SECONDS`` (3 s) if the connection dies without an error.

Comparing heads relies on inserts committing in notification id order, which the recorder
ensures by locking the events table to insert (the same assumption the projector makes).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Hashable
from typing import Any

from domain.application import Circles
from projections.runner import listen
from projections.store import StoreSettings

log = logging.getLogger(__name__)

WAIT_SECONDS = 0.1  # longest wait for a notification: how soon the thread sees a stop
CHECK_SECONDS = 1.0  # how often the listener proves its connection with a round trip
LEASE_SECONDS = 3.0  # how long after a proof the generation is trusted
RETRY_SECONDS = 1.0  # pause before reconnecting after an error
# Notice a silently dead peer within about 10 s even if a check never returns.
CONNECTION = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 1,
              "keepalives_count": 3, "connect_timeout": 10}  # fmt: skip


class StoreHead:
    """The head token of one application's store, for one process."""

    def __init__(self, circles: Circles, settings: StoreSettings) -> None:
        self.circles = circles
        self.settings = settings
        self.listens = settings.engine == "postgres"
        self.generation = 0
        # Every event up to here was committed before some move of the generation. (Inserts
        # commit in notification id order: the recorder locks the table to insert.)
        self.known = 0
        self._live_until = 0.0  # time.monotonic() until which the generation is trusted
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.backend_pid: int | None = None  # the listener's PostgreSQL session, if any
        if self.listens:
            circles.on_saved.append(self.saved)

    # --- the request side ---------------------------------------------------------------------

    def token(self) -> Hashable:
        """Equal to a token taken earlier only if nothing can have been written since."""
        if self.listens:
            if self._pid != os.getpid():
                self._after_fork()
            if self._thread is None:
                self._start()
            if time.monotonic() < self._live_until:
                return ("generation", self.generation)
        return ("head", self.query())

    def query(self) -> int:
        """The store's head, asked of the store (one round trip on PostgreSQL)."""
        return int(self.circles.recorder.max_notification_id() or 0)

    @property
    def live(self) -> bool:
        """Whether tokens currently come from the generation (no query per request)."""
        return self.listens and time.monotonic() < self._live_until

    def saved(self, last: int) -> None:
        """This process has committed events up to ``last``."""
        with self._lock:
            self.known = max(self.known, last)
            self.generation += 1

    def observe(self, head: int) -> None:
        """The store's head was seen at ``head``: move the generation if that is news."""
        with self._lock:
            if head > self.known:
                self.known = head
                self.generation += 1

    # --- the listener -------------------------------------------------------------------------

    def _after_fork(self) -> None:
        # A forked child (gunicorn --preload): the parent's thread does not exist here and its
        # connection must not be touched (closing it would end the parent's session too).
        # The lock is new too: another parent thread may have held it at the fork.
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pid, self._thread, self._live_until = os.getpid(), None, 0.0

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="circles-head-listener", daemon=True
            )
            self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                conn = listen(self.circles, self.settings, **CONNECTION)
            except Exception as error:
                log.warning("store head listener cannot connect (%s); retrying", error)
                stop.wait(RETRY_SECONDS)
                continue
            if conn is None:  # a recorder without a channel: stay on the query
                return
            self.backend_pid = conn.info.backend_pid
            try:
                self._listen(conn, stop)
            except Exception as error:
                if not stop.is_set():
                    log.warning("store head listener lost its connection (%s); retrying", error)
            finally:
                self._live_until = 0.0
                self.backend_pid = None
                conn.close()
            stop.wait(RETRY_SECONDS)

    def _listen(self, conn: Any, stop: threading.Event) -> None:
        statement = self.circles.recorder.max_notification_id_statement  # type: ignore[attr-defined]
        next_check, notified = 0.0, False
        while not stop.is_set():
            now = time.monotonic()
            if notified or now >= next_check:
                # A notification only says "something was inserted" (in this table name, in
                # any schema); the head says whether it is news to this process.
                row = conn.execute(statement).fetchone()
                self.observe(int(row[0] or 0))
                self._live_until = now + LEASE_SECONDS
                if now >= next_check:
                    next_check = now + CHECK_SECONDS
            notified = False
            for _ in conn.notifies(timeout=WAIT_SECONDS, stop_after=1):
                notified = True

    def close(self) -> None:
        """Stop the listener and close its connection (within ``WAIT_SECONDS``)."""
        with self._lock:
            self._stop.set()
            thread, self._thread = self._thread, None
            self._live_until = 0.0
        if thread is not None and self._pid == os.getpid():
            thread.join(timeout=WAIT_SECONDS + 5)
