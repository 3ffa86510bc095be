"""Shared fixtures: one store fixture runs a test on memory, a SQLite file and PostgreSQL.

PostgreSQL tests use a schema of their own, dropped afterwards. Without a server they
skip, saying why; with ``CIRCLES_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) that skip is a
failure instead. Tests that need another tool (libical, ical.js, a browser) use
:func:`skip_or_fail` the same way: ``CIRCLES_REQUIRE_ALL=1`` (also set by ``.ci/run``) turns
every such skip, PostgreSQL's included, into a failure.

``CIRCLES_TEST_CIPHER_KEY=<key>`` runs every store fixture with that ``CIPHER_KEY``: events,
views and service tables sealed (e.g. the key from ``AESCipher.create_key(32)``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

import pytest

from domain.application import Circles
from projections.store import StoreSettings

PG_URL = os.environ.get("CIRCLES_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
CIPHER_KEY = os.environ.get("CIRCLES_TEST_CIPHER_KEY") or None
REQUIRE_ALL = "CIRCLES_REQUIRE_ALL"


def skip_or_fail(reason: str, *flags: str) -> NoReturn:
    """Skip a test whose tool is missing, saying why — or fail it where the tool must be
    there: when ``CIRCLES_REQUIRE_ALL`` or one of ``flags`` (environment variables) is ``1``.
    CI sets them, so a test that needs a tool can never pass there by being skipped."""
    for flag in (*flags, REQUIRE_ALL):
        if os.environ.get(flag) == "1":
            pytest.fail(f"{flag}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _postgres_or_skip() -> StoreSettings:
    import psycopg

    settings = StoreSettings.from_url(PG_URL)
    try:
        psycopg.connect(settings.pg_conninfo, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_URL}: {error}".strip(),
                     "CIRCLES_REQUIRE_POSTGRES")  # fmt: skip
    return settings


@pytest.fixture
def pg_schema() -> Iterator[StoreSettings]:
    """A fresh PostgreSQL schema for one test."""
    import psycopg

    base = _postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base.pg_conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield StoreSettings(
            "postgres",
            pg_host=base.pg_host,
            pg_port=base.pg_port,
            pg_user=base.pg_user,
            pg_password=base.pg_password,
            pg_dbname=base.pg_dbname,
            pg_schema=schema,
            cipher_key=CIPHER_KEY,
        )
    finally:
        with psycopg.connect(base.pg_conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSettings:
    if request.param == "memory":
        return StoreSettings("memory", cipher_key=CIPHER_KEY)
    if request.param == "sqlite":
        return StoreSettings(
            "sqlite", sqlite_path=tmp_path / "circles.sqlite3", cipher_key=CIPHER_KEY
        )
    settings: StoreSettings = request.getfixturevalue("pg_schema")
    return settings


@pytest.fixture(params=["sqlite", "postgres"])
def durable_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSettings:
    """Only the stores that persist across processes and threads."""
    if request.param == "sqlite":
        return StoreSettings(
            "sqlite", sqlite_path=tmp_path / "circles.sqlite3", cipher_key=CIPHER_KEY
        )
    settings: StoreSettings = request.getfixturevalue("pg_schema")
    return settings


@dataclass
class Clock:
    """A settable clock: tests move time instead of sleeping."""

    now: datetime = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self.now = moment


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(store: StoreSettings, clock: Clock) -> Iterator[Circles]:
    application = Circles(env=store.eventsourcing_env(), clock=clock)
    yield application
    application.close()
