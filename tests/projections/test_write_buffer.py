"""Buffered view writes end in the same tables as executing each write at once."""

from __future__ import annotations

import sqlite3
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.write_buffer import WriteBuffer

SCHEMA = [
    "CREATE TABLE view_a (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)",
    "CREATE TABLE view_b (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)",
    "CREATE TABLE view_total (k INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
]
# Writes on one table, on the other, one reading a table it does not write, and a no-table
# statement: the mix where reordering would show if it were wrong.
WRITES = [
    "INSERT INTO view_a VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
    "INSERT INTO view_b VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
    "UPDATE view_a SET v = v + ? WHERE k = ?",
    "DELETE FROM view_b WHERE k = ? AND v < ?",
    "INSERT INTO view_total VALUES (?, (SELECT COUNT(*) FROM view_a WHERE v > ?))"
    " ON CONFLICT (k) DO UPDATE SET n = excluded.n",
    "SELECT ?, ?",
]
READS = ["SELECT SUM(v), COUNT(*) FROM view_a", "SELECT SUM(v), COUNT(*) FROM view_b"]

step = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(WRITES), st.integers(0, 3), st.integers(0, 9)),
    st.tuples(st.just("read"), st.sampled_from(READS), st.just(0), st.just(0)),
)


def _database() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for statement in SCHEMA:
        conn.execute(statement)
    return conn


def _dump(conn: sqlite3.Connection) -> list[list[Any]]:
    return [
        conn.execute(f"SELECT * FROM {t} ORDER BY k").fetchall()
        for t in ("view_a", "view_b", "view_total")
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(step, max_size=60))
def test_buffered_writes_and_reads_match_immediate_execution(steps: list[Any]) -> None:
    direct, buffered = _database(), _database()
    cursor = buffered.cursor()
    writes = WriteBuffer(cursor)
    for kind, sql, a, b in steps:
        if kind == "write":
            direct.execute(sql, (a, b))
            writes.add(sql, [(a, b)])
        else:
            writes.before_read(sql)
            assert cursor.execute(sql).fetchall() == direct.execute(sql).fetchall()
    writes.flush()
    assert _dump(buffered) == _dump(direct)


def test_interleaved_writes_to_two_tables_go_out_as_two_runs() -> None:
    conn = _database()
    calls: list[str] = []

    class Recording:
        def execute(self, sql: str, params: Any) -> None:
            calls.append("execute")
            conn.execute(sql, params)

        def executemany(self, sql: str, rows: Any) -> None:
            calls.append("executemany")
            conn.executemany(sql, rows)

    writes = WriteBuffer(Recording())
    for k in range(50):
        writes.add(WRITES[0], [(k, k)])
        writes.add(WRITES[1], [(k, -k)])
    writes.flush()
    assert calls == ["executemany", "executemany"]
    assert conn.execute("SELECT COUNT(*), SUM(v) FROM view_a").fetchone() == (50, 1225)
