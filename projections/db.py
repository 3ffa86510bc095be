"""The view database: the same SQLite file or PostgreSQL schema as the events, own tables.

Views are written in SQL with ``?`` placeholders and type names in braces (``{money}``,
``{instant}``, ``{day}``, ``{bigint}``); a small :class:`Dialect` turns that into each
engine's SQL and converts values on the way in and out. Amounts are exact: TEXT in SQLite,
NUMERIC in PostgreSQL, ``Decimal`` in Python. Instants are UTC: fixed-width ISO text in
SQLite (so text order is time order), TIMESTAMPTZ in PostgreSQL.

The ``memory`` store keeps events in process memory; its views live in a private
in-memory SQLite database owned by one :class:`ViewDatabase`, so they last as long as it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from projections.postgres_copy import PipelineSwitch, Staging
from projections.sealing import IDENTITY, Sealer
from projections.store import StoreSettings
from projections.write_buffer import BulkSender, WriteBuffer

Row = tuple[Any, ...]


class Dialect:
    """What differs between the engines: types, placeholders, value conversion."""

    name = "sqlite"
    types = {"money": "TEXT", "instant": "TEXT", "day": "TEXT", "bigint": "INTEGER"}
    # Instants are stored as fixed-width UTC text, "2027-03-02T23:00:00.000000+00:00".
    VERSION = "2"  # of the stored formats: part of the view fingerprint

    def sql(self, statement: str) -> str:
        return statement

    def ddl(self, statement: str) -> str:
        return self.sql(statement.format(**self.types))

    def instant(self, value: datetime | None) -> Any:
        if value is None:
            return None
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def to_instant(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return datetime.fromisoformat(value)

    def day(self, value: date) -> Any:
        return value.isoformat()

    def to_day(self, value: Any) -> date:
        return value if isinstance(value, date) else date.fromisoformat(value)

    def money(self, value: Decimal) -> Any:
        return str(value)

    def to_money(self, value: Any) -> Decimal:
        return value if isinstance(value, Decimal) else Decimal(value)


class PostgresDialect(Dialect):
    name = "postgres"
    types = {"money": "NUMERIC", "instant": "TIMESTAMPTZ", "day": "DATE", "bigint": "BIGINT"}

    def __init__(self) -> None:
        self._cache: dict[str, str] = {}

    def sql(self, statement: str) -> str:
        converted = self._cache.get(statement)
        if converted is None:
            converted = self._cache[statement] = statement.replace("?", "%s")
        return converted

    def instant(self, value: datetime | None) -> Any:
        return None if value is None else value.astimezone(UTC)

    def day(self, value: date) -> Any:
        return value

    def money(self, value: Decimal) -> Any:
        return value


class Tx:
    """One open transaction (or autocommit reads) on a view connection.

    Writes (``execute``, ``executemany``) are queued and sent in batches before the next
    read that could see them, and at commit: see :mod:`projections.write_buffer`.
    """

    def __init__(
        self,
        conn: Any,
        dialect: Dialect,
        pipeline: PipelineSwitch | None = None,
        sealer: Sealer = IDENTITY,
    ) -> None:
        self.conn = conn
        self.dialect = dialect
        self.sealer = sealer  # PHI columns and looked-up ids go through it (CIPHER_KEY)
        self.cursor = conn.cursor()
        # Facts looked up again and again within one batch (sessions, fee periods). Safe
        # because the batch holds the writer lock: nobody else changes the views meanwhile.
        self.cache: dict[Any, Any] = {}
        # PostgreSQL write transactions send large INSERT runs through COPY (staging).
        bulk: BulkSender | None = None
        if pipeline is not None:
            bulk = Staging(self.cursor, pipeline).send
        self.writes = WriteBuffer(self.cursor, bulk)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Tx:
        """Queue a write whose result nobody reads (sent before a read or at commit)."""
        self.writes.add(self.dialect.sql(statement), (params,))
        return self

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.writes.add(self.dialect.sql(statement), rows)

    def flush(self) -> None:
        """Send every queued write."""
        self.writes.flush()

    @contextmanager
    def savepoint(self, name: str) -> Iterator[None]:
        """Writes inside either all stay or all go (with the facts cached meanwhile).

        Only on a transaction without a pipeline (``ViewDatabase.write(pipeline=False)``):
        each statement's error must arrive before the rollback that answers it.
        """
        self.flush()
        self.cursor.execute(f"SAVEPOINT {name}")
        try:
            yield
            self.flush()
        except BaseException:
            self.writes.discard()
            self.cache.clear()
            self.cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self.cursor.execute(f"RELEASE SAVEPOINT {name}")
            raise
        self.cursor.execute(f"RELEASE SAVEPOINT {name}")

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        sql = self.dialect.sql(statement)
        self.writes.before_read(sql)
        self.cursor.execute(sql, params)
        return [tuple(r) for r in self.cursor.fetchall()]

    def one(self, statement: str, params: Sequence[Any] = ()) -> Row | None:
        sql = self.dialect.sql(statement)
        self.writes.before_read(sql)
        self.cursor.execute(sql, params)
        row = self.cursor.fetchone()
        return None if row is None else tuple(row)

    @property
    def rowcount(self) -> int:
        """Rows changed by the last statement sent (a whole run's, if it was batched)."""
        self.flush()
        return int(self.cursor.rowcount)


class ViewDatabase:
    """Connections to where the views live, one per thread (one shared for memory)."""

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings
        self.dialect: Dialect = PostgresDialect() if settings.engine == "postgres" else Dialect()
        self.sealer = Sealer(settings.cipher_key)
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.RLock()
        self._memory: sqlite3.Connection | None = None
        if settings.engine == "memory":
            self._memory = sqlite3.connect(
                ":memory:", isolation_level=None, check_same_thread=False
            )
        elif settings.engine not in ("sqlite", "postgres"):
            raise ValueError(f"no view database for store engine {settings.engine!r}")

    @property
    def is_postgres(self) -> bool:
        return self.settings.engine == "postgres"

    def _new_connection(self) -> Any:
        if self.settings.engine == "sqlite":
            assert self.settings.sqlite_path is not None
            self.settings.prepare_sqlite_file()
            conn = sqlite3.connect(str(self.settings.sqlite_path), timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            # A bounded page cache (32 MiB): rebuilds of large views stay fast, memory flat.
            conn.execute("PRAGMA cache_size=-32768")
            return conn
        import psycopg
        from psycopg import sql

        pg = psycopg.connect(self.settings.pg_conninfo, autocommit=True, connect_timeout=10)
        pg.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.settings.pg_schema)))
        return pg

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self._memory is not None:
            with self._lock:
                yield self._memory
            return
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(conn, "closed", False):
            conn = self._local.conn = self._new_connection()
            with self._lock:
                self._all.append(conn)
        try:
            yield conn
        except BaseException:
            if self.is_postgres and conn.broken:
                self._local.conn = None
            raise

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A consistent snapshot for several queries."""
        with self._connection() as conn:
            if self.is_postgres:
                with conn.transaction():
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    yield Tx(conn, self.dialect, sealer=self.sealer)
            else:
                conn.execute("BEGIN")
                try:
                    yield Tx(conn, self.dialect, sealer=self.sealer)
                finally:
                    conn.execute("COMMIT")

    @contextmanager
    def write(self, pipeline: bool = True) -> Iterator[Tx]:
        """A write transaction holding the writer lock from the start.

        SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock now, so a value read
        inside (the tracking position) cannot change before commit. PostgreSQL callers
        lock the rows they depend on with ``SELECT … FOR UPDATE``. ``pipeline=False``:
        every statement is answered before the next is sent, as savepoints need.
        """
        with self._connection() as conn:
            if self.is_postgres and not pipeline:
                with conn.transaction():
                    tx = Tx(conn, self.dialect, sealer=self.sealer)
                    yield tx
                    tx.flush()
            elif self.is_postgres:
                # Pipeline mode: writes whose results nobody reads are sent without waiting
                # for each round trip; a read in between syncs the pipeline first. A COPY
                # of a large run steps out of the pipeline and back in (projections.postgres_copy).
                with conn.transaction(), PipelineSwitch(conn) as switch:
                    tx = Tx(conn, self.dialect, switch, self.sealer)
                    yield tx
                    tx.flush()
            else:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    tx = Tx(conn, self.dialect, sealer=self.sealer)
                    yield tx
                    tx.flush()
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with suppress(Exception):  # closing is best effort
                    conn.close()
            self._all.clear()
            if self._memory is not None:
                self._memory.close()
        self._local = threading.local()
