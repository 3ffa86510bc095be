"""B2: rebuild all views from N events vs. reading and decoding the same notifications.

Generates a clinic's worth of events quickly (aggregates driven directly and saved in
large batches: groups, 16 sessions each, 8 patients, attendance for every session, a
reschedule, a cancellation and a fee change per group), then in one run times

* raw: ``recorder.select_notifications`` + ``mapper.to_domain_event`` over the whole log,
  1,000 at a time, with the library alone;
* rebuild: ``projections.rebuild.rebuild`` — every view dropped and rebuilt from event 1.

and prints the ratio of rates (bar: >= 0.3). Peak RSS of a rebuild is measured in a fresh
subprocess at 50k and 200k events (bar: flat in N). With ``CIPHER_KEY`` in the environment
the events are encrypted (both sides decrypt) and the views sealed (SPEC §6).

    .venv/bin/python -m bench.b2_rebuild [--events 200000] [--small 50000]
                                         [--engine sqlite|postgres] [--repeat 2]
    CIPHER_KEY=… .venv/bin/python -m bench.b2_rebuild …   # encrypted events, sealed views
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.persistence import Mapper

from domain.admission import OPEN_ADMISSION
from domain.application import Circles
from domain.enrollment import Enrollment, enrollment_id
from domain.group import TherapyGroup
from domain.session import TherapySession
from domain.values import AttendanceStatus, FeeSchedule, Format, Modality, SessionKind
from projections.rebuild import rebuild
from projections.store import StoreSettings

TZ = ZoneInfo("Europe/Berlin")
FEES = FeeSchedule.parse(
    "EUR",
    {"session_fee": "85.00", "maintenance_fee": "60.00", "no_show_fee": "40.00",
     "late_cancel_fee": "30.00"},
)  # fmt: skip
STATUSES = list(AttendanceStatus)
PG_URL = os.environ.get("CIRCLES_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
CIPHER_KEY = os.environ.get("CIPHER_KEY") or None


def _group_events(n: int) -> list[Any]:
    """One group's history (~300 events) as aggregates ready to save together."""
    group = TherapyGroup(
        name=f"Group {n}", modality=Modality.IPT, format=Format.IN_PERSON, focus_area=None,
        facilitator_ids=[f"t-{n}"], room_id=f"room-{n}", video_url=None, timezone=TZ.key,
        max_size=8, min_size=4, guest_limit=2, fees=FEES.as_dict(), length_override_reason=None,
        actor="bench",
    )  # fmt: skip
    group.open("bench")
    first = datetime(2027, 1, 5, 18, 0, tzinfo=TZ) + timedelta(days=n % 300)
    sessions = [
        TherapySession(
            group_id=group.id,
            number=i + 1,
            kind=SessionKind.REGULAR,
            starts_at=first + timedelta(weeks=i),
            duration_minutes=90,
            facilitator_ids=[f"t-{n}"],
            room_id=f"room-{n}",
            video_url=None,
            make_up_for=None,
            actor="bench",
        )  # fmt: skip
        for i in range(16)
    ]
    group.add_sessions([s.id for s in sessions], "bench")
    enrollments = []
    for p in range(8):
        pid = f"g{n}-p{p}"
        group.admit(pid, OPEN_ADMISSION, None, "bench")
        enrollments.append(
            Enrollment(
                id=enrollment_id(group.id, pid),
                group_id=group.id,
                patient_id=pid,
                patient_name=f"Patient {p}",
                status="enrolled",
                enrolled_at=first - timedelta(days=7),
                actor="bench",
            )  # fmt: skip
        )
    group.change_fees(FEES, first + timedelta(weeks=8), "bench")
    sessions[14].reschedule(sessions[14].starts_at + timedelta(days=1), "holiday", "bench")
    sessions[15].cancel("closure", "bench")
    for i, session in enumerate(sessions[:15]):
        for p, enrollment in enumerate(enrollments):
            status = STATUSES[(n + i + p) % len(STATUSES)]
            session.record_attendance(enrollment.patient_id, status, "bench")
            enrollment.note_attendance(session.id, session.starts_at, status, "bench")
    return [group, *sessions, *enrollments]


def generate(settings: StoreSettings, events: int) -> int:
    """Write about ``events`` events; returns the exact count."""
    app = Circles(env=settings.eventsourcing_env())
    n = 0
    batch: list[Any] = []
    while (app.recorder.max_notification_id() or 0) < events:
        batch += _group_events(n)
        n += 1
        if n % 20 == 0:
            app.save(*batch)
            batch = []
    if batch:
        app.save(*batch)
    count = int(app.recorder.max_notification_id() or 0)
    app.close()
    return count


def raw_read(app: Circles) -> tuple[int, float]:
    """Read and decode the whole log with the library alone (its own ``Mapper``, with the
    application's transcoder, cipher and compressor; not the upcasting one)."""
    mine = app.mapper
    mapper = Mapper[uuid.UUID](
        transcoder=mine.transcoder, cipher=mine.cipher, compressor=mine.compressor
    )
    started = time.perf_counter()
    position, count = 0, 0
    while True:
        notifications = app.recorder.select_notifications(
            start=position, limit=1000, inclusive_of_start=False
        )
        if not notifications:
            break
        for notification in notifications:
            mapper.to_domain_event(notification)
        count += len(notifications)
        position = notifications[-1].id
    return count, time.perf_counter() - started


def timed_rebuild(app: Circles, settings: StoreSettings) -> float:
    started = time.perf_counter()
    rebuild(app, settings, restart=True)
    return time.perf_counter() - started


def peak_rss_of_rebuild(settings_url: str) -> int:
    """Peak RSS (KiB) of a fresh process that only rebuilds the views."""
    script = (
        "import json, resource\n"
        "from domain.application import Circles\n"
        "from projections.rebuild import rebuild\n"
        "from projections.store import StoreSettings\n"
        f"s = StoreSettings.from_url({settings_url!r}, {CIPHER_KEY!r})\n"
        "app = Circles(env=s.eventsourcing_env())\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "rebuild(app, s, restart=True)\n"
        "print(json.dumps([before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True,
        cwd=Path(__file__).parent.parent,
    )  # fmt: skip
    return int(json.loads(out.stdout)[1])


def store(engine: str, workdir: Path, label: str) -> tuple[StoreSettings, str]:
    if engine == "sqlite":
        path = workdir / f"b2-{label}.sqlite3"
        return StoreSettings("sqlite", sqlite_path=path, cipher_key=CIPHER_KEY), f"sqlite://{path}"
    import psycopg

    base = StoreSettings.from_url(PG_URL)
    schema = f"b2_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base.pg_conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
    return StoreSettings.from_url(url, CIPHER_KEY), url


def drop(settings: StoreSettings) -> None:
    if settings.engine == "postgres":
        import psycopg

        with psycopg.connect(settings.pg_conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{settings.pg_schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=50_000)
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs; the best counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        made = []
        try:
            big, big_url = store(args.engine, Path(tmp), "big")
            made.append(big)
            t0 = time.perf_counter()
            n = generate(big, args.events)
            took = time.perf_counter() - t0
            sealed = "CIPHER_KEY set: encrypted events, sealed views" if CIPHER_KEY else "no key"
            print(f"generated {n:,} events in {took:.1f}s ({args.engine}, {sealed})")
            app = Circles(env=big.eventsourcing_env())
            raw_times, rebuild_times = [], []
            for _ in range(args.repeat):  # alternate, so both see the same cache state
                count, seconds = raw_read(app)
                assert count == n
                raw_times.append(seconds)
                rebuild_times.append(timed_rebuild(app, big))
            app.close()
            raw_rate, rebuild_rate = n / min(raw_times), n / min(rebuild_times)
            print(f"raw read+decode: {raw_rate:,.0f} events/s (best of {args.repeat})")
            print(f"rebuild views:   {rebuild_rate:,.0f} events/s (best of {args.repeat})")
            print(f"B2 ratio rebuild/raw = {rebuild_rate / raw_rate:.2f}  (bar >= 0.3)")
            small, small_url = store(args.engine, Path(tmp), "small")
            made.append(small)
            m = generate(small, args.small)
            rss_small = peak_rss_of_rebuild(small_url)
            rss_big = peak_rss_of_rebuild(big_url)
            print(
                f"peak RSS of a rebuild: {m:,} events {rss_small / 1024:.0f} MiB, "
                f"{n:,} events {rss_big / 1024:.0f} MiB (ratio {rss_big / rss_small:.2f})"
            )
            own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            print(f"this process (generation, raw read, rebuilds): peak RSS {own} MiB")
        finally:
            for settings in made:
                drop(settings)


if __name__ == "__main__":
    main()
