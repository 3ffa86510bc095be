"""The Procfile's processes against PostgreSQL, as SPEC §6 runs them: two web, one worker.

Each test gets a fresh schema, two gunicorn processes (the ``web:`` line of the Procfile)
on free ports and the ``worker:`` line, all with
``DATABASE_URL=…?schema=…`` and ``CIRCLES_PROJECTIONS=worker`` (web processes do not
project after commands; the worker does). Every process is started in a session of its
own, so "kill the web process" kills its gunicorn master and workers together by process
group id, as a crashed container would; teardown stops what the test started, by id.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from projections.store import StoreSettings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line and not line.startswith("#"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url(store: StoreSettings) -> str:
    auth = store.pg_user + (f":{store.pg_password}" if store.pg_password else "")
    return (
        f"postgresql://{auth}@{store.pg_host}:{store.pg_port}/{store.pg_dbname}"
        f"?schema={store.pg_schema}"
    )


def deploy_env(store: StoreSettings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CIRCLES_DATA_DIR", "CIPHER_KEY")}
    env.update(
        DATABASE_URL=database_url(store),
        CIRCLES_PROJECTIONS="worker",
        WEB_CONCURRENCY="1",  # one gunicorn worker (of WEB_THREADS threads) per web process
        PYTHONPATH=str(ROOT),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def cli(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, "-m", "flask", "--app", "service", *args]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class Reply:
    status: int
    body: Any


def call(
    base: str, method: str, path: str, key: str, body: Any = None, timeout: float = 30
) -> Reply:
    """One HTTP request; connection errors propagate (a dead server answers nothing)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw, status, ctype = resp.read(), resp.status, resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        raw, status, ctype = error.read(), error.code, error.headers.get("Content-Type", "")
    return Reply(status, json.loads(raw) if "json" in ctype else raw.decode())


@dataclass
class Cluster:
    store: StoreSettings
    env: dict[str, str]
    key: str
    ports: list[int]
    logs: Path
    web: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    worker: subprocess.Popen[bytes] | None = None
    _started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def base(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i % len(self.ports)]}"

    def request(self, i: int, method: str, path: str, body: Any = None) -> Reply:
        return call(self.base(i), method, path, self.key, body)

    def _spawn(self, name: str, command: str, port: int | None = None) -> subprocess.Popen[bytes]:
        env = dict(self.env)
        if port is not None:
            env["PORT"] = str(port)
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {command}"], env=env, cwd=ROOT, stdout=log, stderr=log,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        self._started.append(proc)
        return proc

    def start_web(self, i: int) -> None:
        port = self.ports[i]
        self.web[i] = self._spawn(f"web{i}", procfile()["web"].strip(), port)
        self._wait_healthy(i)

    def _wait_healthy(self, i: int) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.base(i) + "/healthz", timeout=1):
                    return
            except OSError:
                if self.web[i].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"web{i} did not start: {self.log(f'web{i}')}") from None
                time.sleep(0.05)

    def start_worker(self) -> None:
        self.worker = self._spawn("worker", procfile()["worker"].strip())

    def kill_web(self, i: int) -> None:
        _kill_group(self.web[i], signal.SIGKILL)

    def kill_worker(self) -> None:
        assert self.worker is not None
        _kill_group(self.worker, signal.SIGKILL)

    def stop_worker(self) -> None:
        if self.worker is not None:
            _stop(self.worker)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def lag(self, i: int = 0) -> dict[str, Any]:
        found: dict[str, Any] = self.request(i, "GET", "/healthz/projections").body
        return found

    def wait_projected(self, timeout: float = 60) -> dict[str, Any]:
        """Until the worker has projected everything written so far (no web catch-up)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.worker is not None and self.worker.poll() is None, self.log("worker")
            lag = self.lag()
            if lag["lag_events"] == 0:
                return lag
            assert time.monotonic() < deadline, f"worker still behind: {lag}"
            time.sleep(0.1)

    def close(self) -> None:
        for proc in reversed(self._started):
            _stop(proc)


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Signal the process and every child of it (its own session/process group)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        _kill_group(proc, signal.SIGKILL)


def _sql(store: StoreSettings, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    import psycopg

    with psycopg.connect(store.pg_conninfo, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{store.pg_schema}"')
        return conn.execute(statement, params).fetchall()


def views_position(store: StoreSettings) -> int:
    """The views' tracking position, read with plain SQL (no Projector in this process)."""
    import psycopg

    try:
        rows = _sql(store, "SELECT position FROM view_tracking WHERE name='views'")
    except psycopg.errors.UndefinedTable:  # the worker has not created its tables yet
        return 0
    return int(rows[0][0]) if rows else 0


def dump_views(store: StoreSettings) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every view table, sorted. Plain SQL: building a Projector here would
    create or reset tables with this process's code rather than the processes' under test."""
    tables = _sql(
        store,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
        "AND table_name LIKE 'view%%' AND table_name <> 'view_tracking' ORDER BY table_name",
        (store.pg_schema,),
    )
    return {t: sorted(_sql(store, f'SELECT * FROM "{t}"'), key=repr) for (t,) in tables}


def rebuild_views(env: dict[str, str]) -> None:
    """The rebuild command, from event 1, as an operator runs it."""
    command = [sys.executable, "-m", "projections.rebuild", "--restart"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture
def cluster(pg_schema: StoreSettings, tmp_path: Path) -> Iterator[Cluster]:
    """Two web processes and no worker yet: a test starts the worker when it wants it."""
    env = deploy_env(pg_schema)
    key = cli(env, "create-api-key", "--role", "coordinator", "--name", "deploy").strip()
    found = Cluster(pg_schema, env, key, [free_port(), free_port()], tmp_path)
    try:
        found.start_web(0)
        found.start_web(1)
        yield found
    finally:
        found.close()


@pytest.fixture
def worker_only(pg_schema: StoreSettings, tmp_path: Path) -> Iterator[Cluster]:
    """The database and, once the test starts it, the worker; no web process."""
    found = Cluster(pg_schema, deploy_env(pg_schema), "", [], tmp_path)
    try:
        yield found
    finally:
        found.close()
