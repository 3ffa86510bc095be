"""PostgreSQL: runs written through COPY and a staging table end as executemany would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.application import Circles
from projections import postgres_copy
from projections.db import ViewDatabase
from projections.rebuild import rebuild
from projections.runner import Projector
from projections.store import StoreSettings
from tests.conftest import Clock
from tests.projections.scenario import populate

SCHEMA = [
    "DROP TABLE IF EXISTS view_s",
    "DROP TABLE IF EXISTS view_t",
    """CREATE TABLE view_s (k INTEGER PRIMARY KEY, name TEXT, amount NUMERIC NOT NULL,
        at TIMESTAMPTZ, day DATE NOT NULL, big BIGINT NOT NULL, n INTEGER NOT NULL)""",
    "CREATE TABLE view_t (a TEXT NOT NULL, b INTEGER NOT NULL, v TEXT, PRIMARY KEY (a, b))",
]
# Upserts that keep some columns of the first row and add to the stored value, a
# DO NOTHING, a composite key and a write that is not an INSERT: the cases where staging
# would show if it changed anything.
UPSERT_S = (
    "INSERT INTO view_s VALUES (?,?,?,?,?,?,?) ON CONFLICT (k) DO UPDATE"
    " SET amount=excluded.amount, n=view_s.n+excluded.n"
)
KEEP_S = "INSERT INTO view_s VALUES (?,?,?,?,?,?,?) ON CONFLICT (k) DO NOTHING"
UPSERT_T = "INSERT INTO view_t VALUES (?,?,?) ON CONFLICT (a, b) DO UPDATE SET v=excluded.v"
DOUBLE = "UPDATE view_s SET n = n * 2 WHERE k = ?"
READ = "SELECT COUNT(*), SUM(n), SUM(amount) FROM view_s"

CHARACTERS = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")
TEXT = st.one_of(st.none(), st.text(CHARACTERS, max_size=8))
ROW_S = st.tuples(
    st.integers(0, 12), TEXT, st.decimals(-1000, 1000, places=2),
    st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    st.dates(date(2000, 1, 1), date(2100, 1, 1)), st.integers(-(2**62), 2**62),
    st.integers(-1000, 1000),
)  # fmt: skip
ROW_T = st.tuples(st.sampled_from(["x", "y", "tab\there", "é"]), st.integers(0, 4), TEXT)
STEP = st.one_of(
    st.tuples(st.just(UPSERT_S), ROW_S),
    st.tuples(st.just(KEEP_S), ROW_S),
    st.tuples(st.just(UPSERT_T), ROW_T),
    st.tuples(st.just(DOUBLE), st.tuples(st.integers(0, 12))),
    st.tuples(st.just(READ), st.just(())),
    st.tuples(st.just("commit"), st.just(())),
)


@pytest.fixture
def views(pg_schema: StoreSettings) -> Iterator[ViewDatabase]:
    db = ViewDatabase(pg_schema)
    yield db
    db.close()


def _play(db: ViewDatabase, steps: list[tuple[str, Any]], threshold: int) -> list[Any]:
    """Run ``steps`` in transactions split at each "commit"; what reads saw, then the tables."""
    postgres_copy.THRESHOLD = threshold
    with db.write() as tx:
        for statement in SCHEMA:
            tx.execute(statement)
    seen: list[Any] = []
    transactions: list[list[tuple[str, Any]]] = [[]]
    for sql, params in steps:
        if sql == "commit":
            transactions.append([])
        else:
            transactions[-1].append((sql, params))
    for transaction in transactions:
        with db.write() as tx:
            for sql, params in transaction:
                if sql == READ:
                    seen.append(tx.one(sql))
                else:
                    tx.execute(sql, params)
    with db.read() as tx:
        seen.append(tx.all("SELECT * FROM view_s ORDER BY k"))
        seen.append(tx.all("SELECT * FROM view_t ORDER BY a, b"))
    return seen


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(STEP, max_size=80))
def test_staged_runs_write_what_executemany_writes(
    views: ViewDatabase, steps: list[tuple[str, Any]]
) -> None:
    default = postgres_copy.THRESHOLD
    try:
        assert _play(views, steps, threshold=2) == _play(views, steps, threshold=10**9)
    finally:
        postgres_copy.THRESHOLD = default


def _row(k: int, n: int = 1) -> tuple[Any, ...]:
    at = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(minutes=k)
    return (k, f"row {k}", Decimal("1.50"), at, date(2027, 1, 1), 2**40 + k, n)


def _copies(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the runs that went through COPY from now on."""
    sizes: list[int] = []
    send = postgres_copy.Staging.send

    def counting(self: postgres_copy.Staging, sql: str, rows: list[Any]) -> bool:
        done = send(self, sql, rows)
        if done:
            sizes.append(len(rows))
        return done

    monkeypatch.setattr(postgres_copy.Staging, "send", counting)
    return sizes


def test_large_runs_go_through_copy_and_repeated_keys_do_not(
    views: ViewDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies = _copies(monkeypatch)
    _play(views, [], threshold=postgres_copy.THRESHOLD)
    many = postgres_copy.THRESHOLD + 10
    with views.write() as tx:
        tx.executemany(UPSERT_S, [_row(k) for k in range(many)])
    with views.write() as tx:  # the same keys again: each row adds to the stored n
        tx.executemany(UPSERT_S, [_row(k, n=2) for k in range(many)])
        tx.flush()  # else the next rows would join this run
        # A key twice in one run: the second upsert must see the first (no staging).
        tx.executemany(UPSERT_S, [_row(0, n=10), *[_row(k) for k in range(many)], _row(0)])
    assert copies == [many, many]
    with views.read() as tx:
        assert tx.one("SELECT n FROM view_s WHERE k = 0") == (1 + 2 + 10 + 1 + 1,)
        assert tx.one("SELECT COUNT(*), SUM(n) FROM view_s") == (many, 15 + (many - 1) * 4)


def test_a_rolled_back_transaction_leaves_staging_usable(
    views: ViewDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The staging table made in a transaction that rolls back goes with it."""
    copies = _copies(monkeypatch)
    _play(views, [], threshold=postgres_copy.THRESHOLD)
    many = postgres_copy.THRESHOLD
    with pytest.raises(RuntimeError), views.write() as tx:
        tx.executemany(UPSERT_S, [_row(k) for k in range(many)])
        tx.flush()
        raise RuntimeError("the batch fails after its writes were sent")
    with views.write() as tx:
        tx.executemany(UPSERT_S, [_row(k + 1000) for k in range(many)])
    assert copies == [many, many]
    with views.read() as tx:
        assert tx.one("SELECT MIN(k), COUNT(*) FROM view_s") == (1000, many)


def test_views_rebuilt_through_staging_equal_views_written_row_by_row(
    pg_schema: StoreSettings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Circles(env=pg_schema.eventsourcing_env(), clock=clock)
    views = Projector(app, pg_schema)
    try:
        populate(app, clock, groups=3)
        copies = _copies(monkeypatch)
        monkeypatch.setattr(postgres_copy, "THRESHOLD", 2)
        rebuild(app, pg_schema, restart=True)
        staged = views.dump()
        assert copies
        monkeypatch.setattr(postgres_copy, "THRESHOLD", 10**9)
        rebuild(app, pg_schema, restart=True, batch_size=7)
        assert views.dump() == staged
    finally:
        views.close()
        app.close()
