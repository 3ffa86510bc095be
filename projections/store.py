"""Where events and views live, read from the environment (SPEC §6).

No configuration: one SQLite file under ``./var/`` (or ``$CIRCLES_DATA_DIR``).
``DATABASE_URL=postgresql://…``: PostgreSQL. ``CIPHER_KEY``: AES-GCM encrypted events.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

CIPHER_TOPIC = "eventsourcing.cryptography:AESCipher"


class ConfigurationError(ValueError):
    """The environment names a store Circles cannot use."""


@dataclass(frozen=True)
class StoreSettings:
    engine: str  # "memory" | "sqlite" | "postgres"
    sqlite_path: Path | None = None
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    pg_password: str = ""
    pg_dbname: str = "postgres"
    pg_schema: str = "public"
    cipher_key: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StoreSettings:
        env = os.environ if environ is None else environ
        cipher_key = env.get("CIPHER_KEY") or None
        url = env.get("DATABASE_URL", "").strip()
        if not url:
            data_dir = Path(env.get("CIRCLES_DATA_DIR") or "var")
            return cls("sqlite", sqlite_path=data_dir / "circles.sqlite3", cipher_key=cipher_key)
        return cls.from_url(url, cipher_key)

    @classmethod
    def from_url(cls, url: str, cipher_key: str | None = None) -> StoreSettings:
        if url == "memory://":
            return cls("memory", cipher_key=cipher_key)
        parsed = urlparse(url)
        if parsed.scheme == "sqlite":
            return cls("sqlite", sqlite_path=Path(unquote(parsed.path)), cipher_key=cipher_key)
        if parsed.scheme not in ("postgres", "postgresql"):
            raise ConfigurationError(
                f"DATABASE_URL must start with postgresql:// (got {parsed.scheme}://)"
            )
        query = parse_qs(parsed.query)
        return cls(
            "postgres",
            pg_host=parsed.hostname or "127.0.0.1",
            pg_port=parsed.port or 5432,
            pg_user=unquote(parsed.username or "postgres"),
            pg_password=unquote(parsed.password or ""),
            pg_dbname=(parsed.path or "/postgres").lstrip("/") or "postgres",
            pg_schema=query.get("schema", ["public"])[0],
            cipher_key=cipher_key,
        )

    def prepare_sqlite_file(self) -> None:
        """Make the SQLite file private before anything opens it (no-op for other engines).

        Directories this creates are 0700 and the file 0600, whatever the umask; SQLite
        gives its ``-wal`` and ``-shm`` files the database file's mode. An existing
        database file (and its companions) is brought down to 0600: it holds the clinic's
        data. Existing directories are left as the operator made them.
        """
        if self.engine != "sqlite" or self.sqlite_path is None:
            return
        path = self.sqlite_path
        _private_dirs(path.parent)
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            for companion in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                try:
                    if companion.stat().st_mode & 0o077:
                        companion.chmod(0o600)
                except (FileNotFoundError, PermissionError):
                    pass

    def eventsourcing_env(self) -> dict[str, str]:
        """The library's settings for this store."""
        env: dict[str, str] = {}
        if self.engine == "memory":
            env["PERSISTENCE_MODULE"] = "eventsourcing.popo"
        elif self.engine == "sqlite":
            assert self.sqlite_path is not None
            self.prepare_sqlite_file()
            env["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
            env["SQLITE_DBNAME"] = str(self.sqlite_path)
            env["SQLITE_LOCK_TIMEOUT"] = "30"
        else:
            env.update(
                PERSISTENCE_MODULE="eventsourcing.postgres",
                POSTGRES_DBNAME=self.pg_dbname,
                POSTGRES_HOST=self.pg_host,
                POSTGRES_PORT=str(self.pg_port),
                POSTGRES_USER=self.pg_user,
                POSTGRES_PASSWORD=self.pg_password,
                POSTGRES_SCHEMA=self.pg_schema,
                # Connections kept open per process, and how many more it may open under
                # load. A sync gunicorn worker needs one at a time; many web processes
                # times a large idle pool would exhaust max_connections.
                POSTGRES_POOL_SIZE=os.environ.get("POSTGRES_POOL_SIZE", "2"),
                POSTGRES_MAX_OVERFLOW=os.environ.get("POSTGRES_MAX_OVERFLOW", "20"),
                POSTGRES_LOCK_TIMEOUT="10",
                POSTGRES_CONNECT_TIMEOUT="10",
            )
        if self.cipher_key:
            env["CIPHER_TOPIC"] = CIPHER_TOPIC
            env["CIPHER_KEY"] = self.cipher_key
        else:
            env["CIPHER_TOPIC"] = ""
            env["CIPHER_KEY"] = ""
        return env

    @property
    def pg_conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.pg_host,
            port=self.pg_port,
            user=self.pg_user,
            password=self.pg_password or None,
            dbname=self.pg_dbname,
        )

    @contextmanager
    def setup_lock(self) -> Iterator[None]:
        """Serialise table creation among processes starting at once on one schema.

        PostgreSQL's ``CREATE … IF NOT EXISTS`` is not safe against a concurrent twin
        ("tuple concurrently updated"): web workers booting together on a fresh schema
        would crash. A session advisory lock keyed by the schema makes them take turns.
        Other engines need nothing.
        """
        if self.engine != "postgres":
            yield
            return
        import psycopg

        digest = hashlib.sha256(f"circles-setup:{self.pg_schema}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        with psycopg.connect(self.pg_conninfo, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def _private_dirs(directory: Path) -> None:
    """Create ``directory`` and any missing parents as 0700 (mkdir's mode obeys the umask)."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=0o700)
        except FileExistsError:  # another process made it meanwhile
            continue
        created.chmod(0o700)
