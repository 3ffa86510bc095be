"""A real gunicorn process on a free 127.0.0.1 port, on SQLite or PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from projections.store import StoreSettings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def store_env(store: StoreSettings, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CIRCLES_DATA_DIR")}
    if store.engine == "sqlite":
        assert store.sqlite_path is not None
        env["CIRCLES_DATA_DIR"] = str(store.sqlite_path.parent)
    else:
        auth = store.pg_user + (f":{store.pg_password}" if store.pg_password else "")
        env["DATABASE_URL"] = (
            f"postgresql://{auth}@{store.pg_host}:{store.pg_port}/{store.pg_dbname}"
            f"?schema={store.pg_schema}"
        )
    env["PYTHONPATH"] = str(ROOT)
    return env


@dataclass
class Server:
    base: str
    env: dict[str, str]
    key: str = ""

    def request(
        self, method: str, path: str, body: Any = None, key: str | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        req.add_header("Authorization", f"Bearer {key or self.key}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw, status, headers = resp.read(), resp.status, dict(resp.headers)
        except urllib.error.HTTPError as error:
            raw, status, headers = error.read(), error.code, dict(error.headers)
        ctype = headers.get("Content-Type", "")
        return status, json.loads(raw) if "json" in ctype else raw.decode(), headers


def cli(env: dict[str, str], *args: str, stderr: bool = False) -> str:
    """``flask --app service ARGS`` against the server's store; its stdout (and stderr)."""
    flask = [sys.executable, "-m", "flask", "--app", "service", *args]
    done = subprocess.run(flask, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout + (done.stderr if stderr else "")


@pytest.fixture
def server(durable_store: StoreSettings, tmp_path: Path) -> Iterator[Server]:
    env = store_env(durable_store, tmp_path)
    key = cli(env, "create-api-key", "--role", "coordinator", "--name", "e2e").strip()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "service.app:create_app()", "--bind",
         f"127.0.0.1:{port}", "--workers", "2", "--log-level", "warning"],
        env=env, cwd=ROOT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.1)
        yield Server(base, env, key)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
