"""B1: recording one attendance through the WSGI app vs the library's raw ``Application.save``.

Both sides write the same events (``TherapySession.AttendanceRecorded`` and
``Enrollment.AttendanceNoted``) to the same kind of store, side by side in one run:

- **raw**: aggregates already in memory; trigger the events and ``app.save(session,
  enrollment)`` — the library's floor for this write.
- **wsgi**: ``PUT /sessions/{id}/attendance`` through the Flask WSGI app in-process (the
  werkzeug test client, no sockets): key check, JSON parsing and validation, loading the
  session, group and enrollment, the rules, the same save, and the JSON answer.

Run: ``.venv/bin/python -m bench.b1_command_path [--store sqlite|postgres] [--n 400]
[--rounds 3]``. Rounds alternate the three sides on fresh stores; the median ratio is reported.
Bar: wsgi rate / raw rate >= 0.5. Each side's CPU time (this process's, ``process_time``) is
timed too, and its ratio printed beside the wall-clock one: on a shared machine it varies
less with what other processes do, though it leaves out the database server's work (and
time waiting on the disk), which is on both sides alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from domain.application import Circles
from domain.values import AttendanceStatus
from projections.store import StoreSettings
from service import create_app

FEES = {"session_fee": "85.00", "maintenance_fee": "60.00", "no_show_fee": "40.00",
        "late_cancel_fee": "30.00"}  # fmt: skip
PATIENTS = 40
SESSIONS = 16


def _store(kind: str, where: Path, tag: str) -> StoreSettings:
    if kind == "sqlite":
        return StoreSettings("sqlite", sqlite_path=where / f"{tag}.sqlite3")
    url = os.environ.get("CIRCLES_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    import psycopg

    base = StoreSettings.from_url(url)
    schema = f"bench_{tag}_{os.getpid()}"
    with psycopg.connect(base.pg_conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return StoreSettings.from_url(f"{url}?schema={schema}")


def _clinic(app: Circles, groups: int) -> list[tuple[Any, str]]:
    """Groups with 40 patients and 16 past sessions each: (session id, patient) pairs."""
    pairs = []
    since = datetime(2026, 1, 1, tzinfo=UTC)
    for g in range(groups):
        gid = app.create_group(
            "bench", name=f"B{g}", modality="ipt", format="in_person",
            facilitator_ids=[f"t-{g}"], room_id=f"r-{g}", timezone="Europe/Berlin",
            currency="EUR", fees=FEES, max_size=PATIENTS, min_size=1,
        )  # fmt: skip
        sessions = app.plan_sessions(
            gid,
            "bench",
            first_date="2026-02-02",
            start_time="18:00",
            duration_minutes=90,
            cadence="weekly",
            count=SESSIONS,
        )
        app.open_group(gid, "bench")
        for p in range(PATIENTS):
            app.enroll(gid, "bench", f"p-{g}-{p}", "Bench Patient", enrolled_since=since)
        pairs += [(s, f"p-{g}-{p}") for s in sessions for p in range(PATIENTS)]
    return pairs


class Rate(NamedTuple):
    """Commands per second of wall-clock time and of this process's CPU time."""

    wall: float
    cpu: float


def _timed(n: int, started: tuple[float, float]) -> Rate:
    wall, cpu = time.perf_counter() - started[0], time.process_time() - started[1]
    return Rate(n / wall, n / cpu)


def _start() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _raw(store: StoreSettings, n: int, clock: Any, with_reads: bool) -> Rate:
    env = {**store.eventsourcing_env(), "AGGREGATE_CACHE_MAXSIZE": "2000"}
    app = Circles(env=env, clock=clock)
    pairs = _clinic(app, n // (PATIENTS * SESSIONS) + 1)[:n]
    loaded: dict[Any, Any] = {}
    work = []
    for sid, pid in pairs:
        if sid not in loaded:
            loaded[sid] = app.get_session(sid)
        session = loaded[sid]
        group = loaded.setdefault(session.group_id, app.get_group(session.group_id))
        eid = group.enrollment_id_of(pid)
        loaded.setdefault(eid, app.get_enrollment(eid))
        work.append((session, loaded[eid], pid))
    started = _start()
    for session, enrollment, pid in work:
        if with_reads:  # the library's own command shape: get, trigger, save
            session = app.repository.get(session.id)
            enrollment = app.repository.get(enrollment.id)
        session.record_attendance(pid, AttendanceStatus.PRESENT, "bench")
        enrollment.note_attendance(session.id, session.starts_at, AttendanceStatus.PRESENT, "bench")
        app.save(session, enrollment)
    rate = _timed(n, started)
    app.close()
    return rate


def _wsgi(store: StoreSettings, n: int, clock: Any) -> Rate:
    flask_app = create_app({"STORE": store, "CLOCK": clock, "TESTING": False})
    services = flask_app.extensions["circles"]
    pairs = _clinic(services.circles, n // (PATIENTS * SESSIONS) + 1)[:n]
    key, _ = services.storage.create_key("coordinator", "bench")
    client = flask_app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    started = _start()
    for sid, pid in pairs:
        r = client.put(
            f"/sessions/{sid}/attendance",
            headers=headers,
            json={"records": [{"patient_id": pid, "status": "present"}]},
        )
        assert r.status_code == 200, r.get_data(as_text=True)
    rate = _timed(n, started)
    services.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; median ratio")
    args = parser.parse_args()
    clock = lambda: datetime(2026, 9, 1, tzinfo=UTC)  # noqa: E731 - every session has started
    print(f"B1 command path ({args.store}, n={args.n}, {args.rounds} alternating rounds)")
    ratios, ratios_get, cpu_ratios, cpu_ratios_get = [], [], [], []
    for round_no in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            where = Path(tmp)
            stores = [_store(args.store, where, tag) for tag in ("raw", "rawget", "wsgi")]
            try:
                raw = _raw(stores[0], args.n, clock, with_reads=False)
                raw_get = _raw(stores[1], args.n, clock, with_reads=True)
                wsgi = _wsgi(stores[2], args.n, clock)
            finally:
                for store in stores:
                    _drop(store)
        ratios.append(wsgi.wall / raw.wall)
        ratios_get.append(wsgi.wall / raw_get.wall)
        cpu_ratios.append(wsgi.cpu / raw.cpu)
        cpu_ratios_get.append(wsgi.cpu / raw_get.cpu)
        print(
            f"  round {round_no}: raw save {raw.wall:6,.0f}/s  raw get+save {raw_get.wall:6,.0f}/s"
            f"  WSGI PUT attendance {wsgi.wall:6,.0f}/s  ratio {ratios[-1]:.2f} "
            f"(vs get+save {ratios_get[-1]:.2f})  CPU ratio {cpu_ratios[-1]:.2f} "
            f"(vs get+save {cpu_ratios_get[-1]:.2f})"
        )
    print(
        f"  median ratio vs save only: {statistics.median(ratios):.2f}   "
        f"vs get+save: {statistics.median(ratios_get):.2f}   (bar >= 0.5)"
    )
    print(
        f"  median CPU-time ratio vs save only: {statistics.median(cpu_ratios):.2f}   "
        f"vs get+save: {statistics.median(cpu_ratios_get):.2f}"
    )


def _drop(store: StoreSettings) -> None:
    if store.engine != "postgres":
        return
    import psycopg

    with psycopg.connect(store.pg_conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{store.pg_schema}" CASCADE')


if __name__ == "__main__":
    main()
