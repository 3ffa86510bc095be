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
  of consecutive attendances form two runs instead of alternating. Anything not recognised
  as an INSERT/UPDATE/DELETE naming its tables stays where it is and nothing moves past it;
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
from collections.abc import Iterable, Sequence
from typing import Any

LOOKBACK = 16  # runs searched back for one with the same SQL

_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_READ = re.compile(r"\s*SELECT\b", re.IGNORECASE)
# The tables a statement names: after FROM/INTO/UPDATE/JOIN, and any view_ identifier.
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+(\w+)|\b(view_\w+)", re.IGNORECASE)
_KEYWORDS = frozenset({"select", "set", "only", "lateral"})  # "DO UPDATE SET", "FROM (SELECT"

Tables = frozenset[str] | None  # None: not understood, so it moves past nothing


def _names(sql: str) -> frozenset[str]:
    return frozenset(
        name for a, b in _TABLE.findall(sql) if (name := (a or b).lower()) not in _KEYWORDS
    )


class WriteBuffer:
    """The queued writes of one transaction on one cursor; see the module docstring."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self._runs: list[tuple[str, list[Sequence[Any]]]] = []  # (SQL, rows), in send order

    def __bool__(self) -> bool:
        return bool(self._runs)

    def add(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Queue ``sql`` once per row (``sql`` already in the engine's placeholder style)."""
        self._run_for(sql).extend(rows)

    def _run_for(self, sql: str) -> list[Sequence[Any]]:
        runs = self._runs
        tables = self._written(sql)
        if tables is not None:
            for index in range(len(runs) - 1, max(-1, len(runs) - 1 - LOOKBACK), -1):
                other, rows = runs[index]
                if other == sql:
                    return rows
                others = self._written(other)
                if others is None or not tables.isdisjoint(others):
                    break
        new: list[Sequence[Any]] = []
        runs.append((sql, new))
        return new

    def _written(self, sql: str) -> Tables:
        try:
            return _WRITTEN[sql]
        except KeyError:
            found = _WRITTEN[sql] = (_names(sql) or None) if _WRITE.match(sql) else None
            return found

    def before_read(self, sql: str) -> None:
        """Send the queued writes a read of ``sql`` could see (all, unless a plain SELECT)."""
        if not self._runs:
            return
        read = _names(sql) if _READ.match(sql) else None
        if not read:
            self.flush()
            return
        last = -1
        for index, (other, _) in enumerate(self._runs):
            others = self._written(other)
            if others is None or not read.isdisjoint(others):
                last = index
        if last >= 0:
            self.flush(last + 1)

    def flush(self, count: int | None = None) -> None:
        """Send the first ``count`` runs (all by default), in order."""
        runs = self._runs if count is None else self._runs[:count]
        self._runs = [] if count is None else self._runs[count:]
        for sql, rows in runs:
            try:
                self._send(sql, rows)
            except Exception as error:
                error.add_note(f"while writing the views: {sql}")
                raise

    def _send(self, sql: str, rows: list[Sequence[Any]]) -> None:
        if len(rows) == 1:
            self.cursor.execute(sql, rows[0])
            return
        self.cursor.executemany(sql, rows)


# The tables each write names, per SQL text (a fixed set: the handlers' statements).
_WRITTEN: dict[str, Tables] = {}
