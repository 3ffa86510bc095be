"""B3: a patient's 16-session feed vs ``GET /healthz`` on the same running server.

A real gunicorn configured as the Procfile's ``web`` line (``service/gunicorn_conf.py``,
with one worker process) serves a SQLite file (or PostgreSQL with ``--store postgres``).
The clinic is seeded over HTTP: one IPT group with 16 weekly sessions, the patient
enrolled, a feed token issued. Then, interleaved in one loop, each request on a fresh
connection (as a calendar client polling now and then opens one):

- ``GET /healthz`` — the floor: routing, the endpoint wrapper, a JSON answer;
- ``GET /feeds/{token}.ics`` — the full 200 with the body;
- the same with ``If-None-Match`` — the ``304`` path;
- ``feed after write``: the 200 right after an unrelated write elsewhere in the clinic
  (untimed), so the body cache misses: views catch up, the token is loaded, rows are
  read and the calendar is assembled again (only changed rows are re-serialised).

Run: ``.venv/bin/python -m bench.b3_feeds [--n 1000] [--store sqlite|postgres]``.
Bars: feed p50 / healthz p50 <= 2; 304 p50 / healthz p50 <= 1.2.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FEES = {"session_fee": "85.00", "maintenance_fee": "60.00", "no_show_fee": "40.00",
        "late_cancel_fee": "30.00"}  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(store: str, where: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CIRCLES_DATA_DIR")}
    env["PYTHONPATH"] = str(ROOT)
    if store == "sqlite":
        env["CIRCLES_DATA_DIR"] = str(where)
    else:
        import psycopg

        url = os.environ.get(
            "CIRCLES_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        )
        schema = f"bench_b3_{os.getpid()}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')
        env["DATABASE_URL"] = f"{url}?schema={schema}"
    return env


def _drop_schema(env: dict[str, str]) -> None:
    """Leave no bench schema behind in the shared database."""
    url = env.get("DATABASE_URL")
    if not url:
        return
    import psycopg

    base, _, query = url.partition("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{query}" CASCADE')


class Client:
    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.key = key

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            sent = dict(headers or {})
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                sent["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            return response.status, response.read(), dict(response.getheaders())
        finally:
            conn.close()

    def staff(self, method: str, path: str, body: Any = None) -> Any:
        status, raw, _ = self.call(method, path, body, {"Authorization": f"Bearer {self.key}"})
        assert 200 <= status < 300, (status, raw[:500])
        return json.loads(raw)


def _seed(client: Client) -> str:
    """One group, 16 weekly sessions from two weeks ahead, one patient; their feed path."""
    group = client.staff("POST", "/groups", {
        "name": "Bench IPT", "modality": "ipt", "format": "in_person",
        "facilitator_ids": ["t-bench"], "room_id": "room-b", "timezone": "Europe/Berlin",
        "currency": "EUR", "fees": FEES,
    })  # fmt: skip
    first = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
    client.staff("POST", f"/groups/{group['id']}/sessions", {
        "first_date": first, "start_time": "18:00", "duration_minutes": 90,
        "cadence": "weekly", "count": 16,
    })  # fmt: skip
    client.staff("POST", f"/groups/{group['id']}/open")
    client.staff("POST", f"/groups/{group['id']}/enrollments",
                 {"patient_id": "p-bench", "patient_name": "Bench Patient"})  # fmt: skip
    issued = client.staff("POST", "/patients/p-bench/feed-tokens")
    url: str = issued["url"]
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def _time(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="requests of each kind")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = _env(args.store, Path(tmp))
        key = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "service", "create-api-key",
             "--role", "coordinator", "--name", "bench"],
            env=env, cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "python:service.gunicorn_conf",
             "service.app:create_app()", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--log-level", "warning"],
            env=env, cwd=ROOT,
        )  # fmt: skip
        # With PostgreSQL the views are kept by the worker process, as in the Procfile.
        worker = (
            subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "service", "run-projections"],
                env=env,
                cwd=ROOT,
            )  # fmt: skip
            if args.store == "postgres"
            else None
        )
        try:
            client = Client(port, key)
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.call("GET", "/healthz")[0] == 200:
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("gunicorn did not start") from None
                    time.sleep(0.1)
            feed = _seed(client)
            status, body, headers = client.call("GET", feed)
            assert status == 200, status
            events = body.count(b"BEGIN:VEVENT")
            assert events == 16, events
            etag = headers["ETag"]
            cond = {"If-None-Match": etag}
            assert client.call("GET", feed, headers=cond)[0] == 304

            def healthz() -> None:
                assert client.call("GET", "/healthz")[0] == 200

            def full() -> None:
                status, raw, _ = client.call("GET", feed)
                assert status == 200, (status, raw[:300])

            def not_modified() -> None:
                assert client.call("GET", feed, headers=cond)[0] == 304

            def elsewhere() -> None:  # an event no feed shows: moves the store's head
                client.staff("POST", "/therapists/t-bench/feed-tokens")

            kinds = {"healthz": healthz, "feed": full, "304": not_modified, "miss": full}
            for fn in kinds.values():  # warm-up
                for _ in range(50):
                    fn()
            samples: dict[str, list[float]] = {k: [] for k in kinds}
            for _ in range(args.n):
                for name, fn in kinds.items():
                    if name == "miss":
                        elsewhere()
                    samples[name].append(_time(fn))
        finally:
            for process in (server, worker):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=15)
            _drop_schema(env)

    p50 = {k: statistics.median(v) * 1000 for k, v in samples.items()}
    p90 = {k: statistics.quantiles(v, n=10)[-1] * 1000 for k, v in samples.items()}
    print(f"B3 ({args.store}, Procfile gunicorn, 1 worker, n={args.n} each, {events} events, "
          f"{len(body)} bytes)")  # fmt: skip
    for name in kinds:
        print(f"  {name:8s} p50 {p50[name]:.3f} ms   p90 {p90[name]:.3f} ms")
    feed_ratio, cond_ratio = p50["feed"] / p50["healthz"], p50["304"] / p50["healthz"]
    miss_ratio = p50["miss"] / p50["healthz"]
    print(f"  feed / healthz = {feed_ratio:.2f} (bar <= 2)   "
          f"{'met' if feed_ratio <= 2 else 'NOT met'}")  # fmt: skip
    print(f"  304  / healthz = {cond_ratio:.2f} (bar <= 1.2) "
          f"{'met' if cond_ratio <= 1.2 else 'NOT met'}")  # fmt: skip
    print(f"  miss / healthz = {miss_ratio:.2f} (feed after a write elsewhere: cache miss) "
          f"{'met' if miss_ratio <= 2 else 'NOT met'} against the 2x bar")  # fmt: skip


if __name__ == "__main__":
    main()
