"""PostgreSQL: large runs of one INSERT go through ``COPY`` and a staging table.

Sent with ``executemany``, every row costs psycopg ≈ 14 µs (binding, one Bind/Execute
message) and the server one statement execution of its own. A rebuild writes runs of
≈ 100 attendance and charge-line upserts at a time, so for a run of at least
:data:`THRESHOLD` rows :class:`Staging` instead

1. copies the rows (binary ``COPY``) into a temporary table shaped like the view table
   (``ON COMMIT DELETE ROWS``: private to the connection, no WAL, emptied at commit), and
2. moves them with one ``WITH s AS (DELETE FROM stage RETURNING *) INSERT INTO view
   SELECT * FROM s`` plus the statement's own ``ON CONFLICT`` clause,

in the batch's transaction, at the run's place in the write order. That is the same as
executing the rows one by one as long as no two rows of the run share the conflict key (one
``INSERT … ON CONFLICT DO UPDATE`` may not touch a row twice, and a later row would update
columns the earlier one inserted); such a run, and any statement not of the form
``INSERT INTO t VALUES (?, …, ?) [ON CONFLICT (cols) DO …]`` with one placeholder per column,
keeps ``executemany``.

psycopg cannot ``COPY`` in pipeline mode, so the write transaction steps out of its
pipeline for the copy (:class:`PipelineSwitch`) and back in for what follows.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from types import TracebackType
from typing import Any

THRESHOLD = 64  # rows; smaller runs (incremental catch-up) keep executemany

_INSERT = re.compile(
    r"INSERT INTO (\w+) VALUES \(((?:%s,)*%s)\)"
    r"(\s+ON CONFLICT \(([\w\s,]+)\) DO (?:NOTHING|UPDATE SET [^%;]*))?",
    re.IGNORECASE,
)


class PipelineSwitch:
    """The write transaction's pipeline, left for a ``COPY`` and entered again after it."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._pipeline: Any = None

    def enter(self) -> None:
        if self._pipeline is None:
            self._pipeline = self.conn.pipeline()
            self._pipeline.__enter__()

    def leave(self) -> None:
        """Sync (waiting for every queued result, raising its error) and leave."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.__exit__(None, None, None)

    def __enter__(self) -> PipelineSwitch:
        self.enter()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.__exit__(kind, error, trace)


class _Plan:
    """How one INSERT statement is staged: its table, and the SQL that moves a run."""

    def __init__(self, table: str, columns: int, conflict: str, key: list[str]) -> None:
        self.table, self.columns, self.conflict, self.key = table, columns, conflict, key


def _plan(sql: str) -> _Plan | None:
    match = _INSERT.fullmatch(sql.strip())
    if match is None:
        return None
    table, placeholders, conflict, key = match.groups()
    names = [k.strip().lower() for k in key.split(",")] if key else []
    return _Plan(table, placeholders.count("%s"), conflict or "", names)


_PLANS: dict[str, _Plan | None] = {}


class Staging:
    """Sends large INSERT runs of one PostgreSQL write transaction through ``COPY``."""

    def __init__(self, cursor: Any, pipeline: PipelineSwitch, threshold: int | None = None) -> None:
        self.cursor = cursor
        self.pipeline = pipeline
        self.threshold = THRESHOLD if threshold is None else threshold
        # Per view table, in this transaction: (staging table, column names, type oids).
        self._stages: dict[str, tuple[str, list[str], list[int]]] = {}

    def send(self, sql: str, rows: list[Sequence[Any]]) -> bool:
        """Write the run through a staging table; False (nothing sent) if it does not fit."""
        if len(rows) < self.threshold:
            return False
        try:
            plan = _PLANS[sql]
        except KeyError:
            plan = _PLANS[sql] = _plan(sql)
        if plan is None or any(len(row) != plan.columns for row in rows):
            return False
        self.pipeline.leave()
        try:
            stage, names, types = self._stage(plan.table)
            if len(names) != plan.columns or not self._distinct(plan, names, rows):
                return False
            with self.cursor.copy(f"COPY {stage} FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
        finally:
            self.pipeline.enter()
        self.cursor.execute(
            f"WITH s AS (DELETE FROM {stage} RETURNING *)"
            f" INSERT INTO {plan.table} SELECT * FROM s{plan.conflict}"
        )
        return True

    def _stage(self, table: str) -> tuple[str, list[str], list[int]]:
        """The staging table for ``table`` (created on first use in this connection).

        Named after the view table's columns and types, so a changed view definition gets
        a staging table of its own; looked up once per transaction, because a rolled-back
        transaction takes the temporary table it created with it.
        """
        found = self._stages.get(table)
        if found is None:
            self.cursor.execute(f"SELECT * FROM {table} LIMIT 0")
            description = self.cursor.description
            names = [c.name.lower() for c in description]
            types = [int(c.type_code) for c in description]
            shape = hashlib.sha256(repr((names, types)).encode()).hexdigest()[:12]
            stage = f"circles_stage_{table}_{shape}"
            self.cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS"
                f" AS SELECT * FROM {table} WITH NO DATA"
            )
            found = self._stages[table] = (stage, names, types)
        return found

    @staticmethod
    def _distinct(plan: _Plan, names: list[str], rows: list[Sequence[Any]]) -> bool:
        """Whether no two rows share the conflict key (always, without ON CONFLICT)."""
        if not plan.key:
            return True
        if any(k not in names for k in plan.key):
            return False
        at = [names.index(k) for k in plan.key]
        return len({tuple(row[i] for i in at) for row in rows}) == len(rows)
