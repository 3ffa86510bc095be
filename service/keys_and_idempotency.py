"""The service's own small tables: staff API keys and idempotency records (and, through
``service.staff``, the staff who sign in to the pages).

They live in the same database as the events (SQLite file or PostgreSQL schema), so a
key created by the CLI is seen by every server process, and an idempotent reply
survives restarts. Keys are stored only as their SHA-256.

With ``CIPHER_KEY`` an idempotency record's reply body is sealed (AES-GCM, it can hold
names and emails) and its request fingerprint is keyed (a blind index of the SHA-256), so
the file does not let anyone confirm a guessed request (:mod:`projections.sealing`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from projections.sealing import Sealer
from projections.store import StoreSettings

KEY_PREFIX = "ck_"
ROLES = ("coordinator", "therapist", "billing", "admin")
# An in-flight idempotency claim older than this is taken to belong to a dead request.
CLAIM_TIMEOUT_SECONDS = 60.0

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS circles_staff_keys (
        id TEXT PRIMARY KEY,
        key_hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        role TEXT NOT NULL,
        name TEXT NOT NULL,
        therapist_id TEXT,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS circles_idempotency (
        actor TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        claimed_at DOUBLE PRECISION NOT NULL,
        status INTEGER,
        headers TEXT,
        body TEXT,
        PRIMARY KEY (actor, key)
    )""",
]


@dataclass(frozen=True)
class StaffKey:
    id: str
    prefix: str
    role: str
    name: str
    therapist_id: str | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def actor(self) -> str:
        """How events name the key holder: readable and unique."""
        return f"{self.name} <{self.role} key {self.id}>"


@dataclass(frozen=True)
class StoredReply:
    status: int
    headers: dict[str, str]
    body: str


class Claim(Protocol):
    """The outcome of claiming an idempotency key."""


@dataclass(frozen=True)
class Claimed:
    """This request owns the key: run it, then ``complete`` or ``release``."""


@dataclass(frozen=True)
class Replay:
    reply: StoredReply


@dataclass(frozen=True)
class Mismatch:
    """The key was used before for a different request."""


@dataclass(frozen=True)
class InFlight:
    """The first request with this key is still running."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class _Database:
    """A tiny portable layer: SQLite (file or memory) or PostgreSQL, ``?`` placeholders."""

    def __init__(self, settings: StoreSettings) -> None:
        self.engine = settings.engine
        self._lock = threading.Lock()
        self._memory: sqlite3.Connection | None = None
        self._pool: Any = None
        if settings.engine == "postgres":
            from psycopg_pool import ConnectionPool

            schema = settings.pg_schema.replace('"', "")

            def configure(conn: Any) -> None:
                conn.execute(f'SET search_path TO "{schema}"')
                conn.commit()

            self._pool = ConnectionPool(
                settings.pg_conninfo, min_size=1, max_size=8, configure=configure, open=True
            )
        elif settings.engine == "sqlite":
            assert settings.sqlite_path is not None
            settings.prepare_sqlite_file()
            self._path = str(settings.sqlite_path)
            self._local = threading.local()
        else:
            self._memory = sqlite3.connect(":memory:", check_same_thread=False)

    @contextmanager
    def connect(self, write: bool = True) -> Iterator[Any]:
        """A transaction; ``write=False``: one read statement, which is its own transaction
        (no BEGIN and COMMIT round trips: a staff key is checked this way on every request)."""
        if self._pool is not None:
            with self._pool.connection() as conn:
                if write:
                    yield _PgAdapter(conn)
                    return
                conn.autocommit = True
                try:
                    yield _PgAdapter(conn)
                finally:
                    conn.autocommit = False
        elif self._memory is not None:
            with self._lock, self._memory:
                yield self._memory
        else:
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
                conn.execute("PRAGMA busy_timeout = 30000")
                self._local.conn = conn
            if not write:  # isolation_level=None: the statement commits on its own
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


class _PgAdapter:
    """psycopg with sqlite's ``?`` placeholders, so the SQL below is written once."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(sql.replace("?", "%s"), tuple(params))


def _is_unique_violation(error: Exception) -> bool:
    if isinstance(error, sqlite3.IntegrityError):
        return True
    try:
        import psycopg

        return isinstance(error, psycopg.errors.UniqueViolation)
    except ImportError:  # pragma: no cover
        return False


class ServiceStorage:
    def __init__(self, settings: StoreSettings) -> None:
        self._db = _Database(settings)
        self._sealer = Sealer(settings.cipher_key)
        self._migrate()
        from service.staff import StaffAccounts  # it builds on this module's SQL layer

        self.staff = StaffAccounts(self._db)

    def _migrate(self) -> None:
        with self._db.connect() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def close(self) -> None:
        self._db.close()

    # --- staff keys ---------------------------------------------------------------------------

    def create_key(
        self, role: str, name: str, therapist_id: str | None = None
    ) -> tuple[str, StaffKey]:
        """A new key; the plain key is returned once and never stored."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if (role == "therapist") != (therapist_id is not None):
            raise ValueError("a therapist key needs a therapist id, and only a therapist key")
        plain = KEY_PREFIX + secrets.token_urlsafe(32)
        key = StaffKey(
            id=str(uuid.uuid4()),
            prefix=plain[:7],
            role=role,
            name=name,
            therapist_id=therapist_id,
            created_at=_now(),
            revoked_at=None,
        )
        with self._db.connect() as conn:
            conn.execute(
                "INSERT INTO circles_staff_keys "
                "(id, key_hash, prefix, role, name, therapist_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key.id,
                    hash_key(plain),
                    key.prefix,
                    role,
                    name,
                    therapist_id,
                    key.created_at.isoformat(),
                ),
            )
        return plain, key

    def authenticate(self, plain: str) -> StaffKey | None:
        """The live key matching ``plain``, or None. Only hashes are compared."""
        digest = hash_key(plain)
        with self._db.connect(write=False) as conn:
            row = conn.execute(
                "SELECT id, key_hash, prefix, role, name, therapist_id, created_at, revoked_at "
                "FROM circles_staff_keys WHERE key_hash = ?",
                (digest,),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[1], digest) or row[7] is not None:
            return None
        return self._key(row)

    def list_keys(self, after: str | None, limit: int) -> list[StaffKey]:
        with self._db.connect(write=False) as conn:
            rows = conn.execute(
                "SELECT id, key_hash, prefix, role, name, therapist_id, created_at, revoked_at "
                "FROM circles_staff_keys WHERE id > ? ORDER BY id LIMIT ?",
                (after or "", limit),
            ).fetchall()
        return [self._key(r) for r in rows]

    def get_key(self, key_id: str) -> StaffKey | None:
        with self._db.connect(write=False) as conn:
            row = conn.execute(
                "SELECT id, key_hash, prefix, role, name, therapist_id, created_at, revoked_at "
                "FROM circles_staff_keys WHERE id = ?",
                (key_id,),
            ).fetchone()
        return None if row is None else self._key(row)

    def revoke_key(self, key_id: str) -> StaffKey | None:
        with self._db.connect() as conn:
            conn.execute(
                "UPDATE circles_staff_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (_now().isoformat(), key_id),
            )
        return self.get_key(key_id)

    @staticmethod
    def _key(row: Sequence[Any]) -> StaffKey:
        return StaffKey(
            id=row[0],
            prefix=row[2],
            role=row[3],
            name=row[4],
            therapist_id=row[5],
            created_at=datetime.fromisoformat(row[6]),
            revoked_at=_parse(row[7]),
        )

    # --- idempotency --------------------------------------------------------------------------

    def claim(
        self, actor: str, key: str, fingerprint: str
    ) -> Claimed | Replay | Mismatch | InFlight:
        """Claim ``key`` for this request, or say why not (replay, mismatch, in flight)."""
        now = time.time()
        fingerprint = self._sealer.index(fingerprint, "request")
        for _ in range(3):
            try:
                with self._db.connect() as conn:
                    conn.execute(
                        "INSERT INTO circles_idempotency (actor, key, fingerprint, claimed_at) "
                        "VALUES (?, ?, ?, ?)",
                        (actor, key, fingerprint, now),
                    )
                return Claimed()
            except Exception as error:
                if not _is_unique_violation(error):
                    raise
            with self._db.connect() as conn:
                row = conn.execute(
                    "SELECT fingerprint, claimed_at, status, headers, body "
                    "FROM circles_idempotency WHERE actor = ? AND key = ?",
                    (actor, key),
                ).fetchone()
                if row is None:
                    continue
                if row[0] != fingerprint:
                    return Mismatch()
                if row[2] is not None:
                    body = self._sealer.open(row[4], "circles_idempotency.body")
                    return Replay(StoredReply(int(row[2]), json.loads(row[3]), body or ""))
                if now - float(row[1]) < CLAIM_TIMEOUT_SECONDS:
                    return InFlight()
                # The first attempt died mid-way: take the claim over.
                conn.execute(
                    "DELETE FROM circles_idempotency WHERE actor = ? AND key = ? "
                    "AND status IS NULL AND claimed_at = ?",
                    (actor, key, row[1]),
                )
        return InFlight()

    def complete(self, actor: str, key: str, reply: StoredReply) -> None:
        with self._db.connect() as conn:
            conn.execute(
                "UPDATE circles_idempotency SET status = ?, headers = ?, body = ? "
                "WHERE actor = ? AND key = ?",
                (
                    reply.status,
                    json.dumps(reply.headers),
                    self._sealer.seal(reply.body, "circles_idempotency.body"),
                    actor,
                    key,
                ),
            )

    def release(self, actor: str, key: str) -> None:
        """Forget a claim whose request failed, so the client can retry with the same key."""
        with self._db.connect() as conn:
            conn.execute(
                "DELETE FROM circles_idempotency WHERE actor = ? AND key = ? AND status IS NULL",
                (actor, key),
            )
