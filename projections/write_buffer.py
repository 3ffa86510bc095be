"""Buffered view writes: what lets a batch of events cost a few calls, not thousands.

Handlers write a row or two per event. Sent one by one, each statement costs psycopg a
full ``execute`` (query conversion, a pipeline round of its own: ≈75 µs of client work even
in pipeline mode) — far more than the row. :class:`WriteBuffer` queues the writes of one
transaction and sends them only when something reads or the transaction commits:

* writes of the same SQL form a *run*, sent as one ``executemany`` (psycopg converts the
  query once, prepares it on the server and streams the rows through the pipeline; SQLite
  reuses one compiled statement). A write joins the last run of its SQL if it only has to
  move past writes naming none of its tables: statements on disjoint tables commute (the
  views have no triggers, foreign keys or sequences), so the roster and charge-line upserts
  of consecutive attendances form two runs instead of alternating, however many other
  writes come between (a batch of a rebuild sends each as one run). Anything not recognised
  as an INSERT/UPDATE/DELETE naming its tables stays where it is and nothing moves past it.
  A run may go out some faster way instead (``bulk``: PostgreSQL's COPY, see
  :mod:`projections.postgres_copy`);
* a read first sends every queued write up to the last one naming a table it reads (all of
  them, unless it is a plain SELECT), so a handler always sees what earlier handlers wrote.

Every table therefore sees its writes in call order, and the views end up exactly as if
each write had been executed at once; only an error surfaces later (at the next read or at
commit, with the statement in a note), still inside the batch's transaction.

(Multi-row ``INSERT … VALUES (…), (…)`` and ``unnest`` arrays were measured too: they spare
the server a little but cost psycopg more per row than ``executemany``.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_READ = re.compile(r"\s*SELECT\b", re.IGNORECASE)
# The tables a statement names: after FROM/INTO/UPDATE/JOIN, and any view_ identifier.
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+(\w+)|\b(view_\w+)", re.IGNORECASE)
_KEYWORDS = frozenset({"select", "set", "only", "lateral"})  # "DO UPDATE SET", "FROM (SELECT"

Tables = frozenset[str] | None  # None: not understood, so it moves past nothing
# Sends a run some faster way if it can (True), or leaves it to executemany (False).
BulkSender = Callable[[str, list[Sequence[Any]]], bool]


def _names(sql: str) -> frozenset[str]:
    return frozenset(
        name for a, b in _TABLE.findall(sql) if (name := (a or b).lower()) not in _KEYWORDS
    )


class WriteBuffer:
    """The queued writes of one transaction on one cursor; see the module docstring."""

    def __init__(self, cursor: Any, bulk: BulkSender | None = None) -> None:
        self.cursor = cursor
        self.bulk = bulk
        self._runs: list[tuple[str, list[Sequence[Any]]]] = []  # (SQL, rows), in send order
        # Where a new write may go, in O(its tables) rather than a scan back over the runs
        # (a batch queues hundreds): run numbers count every run since the buffer began,
        # ``_sent`` of them are gone. The last run of each SQL, the last run naming each
        # table, and the last run not understood (which nothing moves past).
        self._sent = 0
        self._last_of: dict[str, int] = {}
        self._last_naming: dict[str, int] = {}
        self._last_opaque = -1

    def __bool__(self) -> bool:
        return bool(self._runs)

    def add(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Queue ``sql`` once per row (``sql`` already in the engine's placeholder style)."""
        self._run_for(sql).extend(rows)

    def _run_for(self, sql: str) -> list[Sequence[Any]]:
        tables = _written(sql)
        if tables is not None:
            # The last run of this SQL, if every later run names none of its tables (that
            # run names them all, so no table may have been named since).
            last = self._last_of.get(sql, -1)
            naming = self._last_naming
            if (
                last >= self._sent
                and last > self._last_opaque
                and all(naming[table] == last for table in tables)
            ):
                return self._runs[last - self._sent][1]
        number = self._sent + len(self._runs)
        new: list[Sequence[Any]] = []
        self._runs.append((sql, new))
        self._last_of[sql] = number
        if tables is None:
            self._last_opaque = number
        else:
            for table in tables:
                self._last_naming[table] = number
        return new

    def before_read(self, sql: str) -> None:
        """Send the queued writes a read of ``sql`` could see (all, unless a plain SELECT)."""
        if not self._runs:
            return
        read = _read(sql)
        if not read:
            self.flush()
            return
        last = max(self._last_opaque, *(self._last_naming.get(table, -1) for table in read))
        if last >= self._sent:
            self.flush(last - self._sent + 1)

    def discard(self) -> None:
        """Forget every queued write (their savepoint is being rolled back)."""
        self._sent += len(self._runs)
        self._runs = []

    def flush(self, count: int | None = None) -> None:
        """Send the first ``count`` runs (all by default), in order."""
        runs = self._runs if count is None else self._runs[:count]
        self._runs = [] if count is None else self._runs[count:]
        self._sent += len(runs)
        for sql, rows in runs:
            try:
                self._send(sql, rows)
            except Exception as error:
                error.add_note(f"while writing the views: {sql}")
                raise

    def _send(self, sql: str, rows: list[Sequence[Any]]) -> None:
        if len(rows) == 1:
            self.cursor.execute(sql, rows[0])
        elif self.bulk is None or not self.bulk(sql, rows):
            self.cursor.executemany(sql, rows)


def _written(sql: str) -> Tables:
    """The tables a write names; None if not understood as a write."""
    try:
        return _WRITTEN[sql]
    except KeyError:
        found = _WRITTEN[sql] = (_names(sql) or None) if _WRITE.match(sql) else None
        return found


def _read(sql: str) -> frozenset[str] | None:
    """The tables a plain SELECT names; None (or empty) for anything else."""
    try:
        return _READS[sql]
    except KeyError:
        found = _READS[sql] = _names(sql) if _READ.match(sql) else None
        return found


# The tables each write or read names, per SQL text (a fixed set: the handlers' statements).
_WRITTEN: dict[str, Tables] = {}
_READS: dict[str, frozenset[str] | None] = {}
