"""B5: load a group aggregate with 5k events vs one with 10 (SPEC §7, bar <= 2x).

Both groups live in the same store; each is loaded many times, alternating, and the
median load times are compared. Run without snapshots too, to show what snapshots buy.

    .venv/bin/python -m bench.b5_snapshots [--events 5000] [--engine sqlite|postgres]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.admission import OPEN_ADMISSION
from domain.application import Circles
from domain.group import TherapyGroup
from projections.store import StoreSettings

FEES = {
    "session_fee": "85.00",
    "maintenance_fee": "60.00",
    "no_show_fee": "40.00",
    "late_cancel_fee": "30.00",
}


def _group(app: Circles, name: str) -> UUID:
    group_id = app.create_group(
        "bench",
        name=name,
        modality="maintenance",
        format="online",
        facilitator_ids=["t"],
        video_url="https://video.example/x",
        timezone="Europe/Berlin",
        currency="EUR",
        fees=FEES,
        max_size=50,
        min_size=1,
    )
    app.open_group(group_id, "bench")
    return group_id


def _grow(app: Circles, group_id: UUID, events: int) -> None:
    """Realistic churn: patients join and leave, so the roster stays small. Events are
    made by the aggregate's own methods and saved one snapshot interval at a time, which is how the
    application's snapshot interval sees them."""
    group = app.get_group(group_id)
    interval = Circles.snapshotting_intervals[TherapyGroup]
    n = 0
    while group.version < events:
        pid = f"p{n}"
        group.admit(pid, OPEN_ADMISSION, None, "bench")
        if group.version < events:
            group.release(pid, OPEN_ADMISSION, None, "bench")
        if group.version % interval == 0 or group.version >= events:
            app.save(group)
        n += 1


def _median_load(app: Circles, group_id: UUID, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        app.get_group(group_id)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(settings: StoreSettings, events: int, rounds: int, snapshots: bool) -> dict[str, Any]:
    class Plain(Circles):
        name = "Circles"  # same tables
        snapshotting_intervals = {}

    cls = Circles if snapshots else Plain
    env = settings.eventsourcing_env()
    writer = Circles(env=env)
    small = _group(writer, "small")
    for i in range(9):
        writer.update_group(small, "bench", name=f"small {i}")
    big = _group(writer, "big")
    _grow(writer, big, events)
    reader = cls(env=env)
    assert (reader.snapshots is None) is not snapshots
    small_t = big_t = 0.0
    for _ in range(3):  # interleave to share the machine's noise
        small_t += _median_load(reader, small, rounds)
        big_t += _median_load(reader, big, rounds)
    result = {
        "small_events": writer.get_group(small).version,
        "big_events": writer.get_group(big).version,
        "small_ms": small_t / 3 * 1000,
        "big_ms": big_t / 3 * 1000,
        "ratio": big_t / small_t,
    }
    writer.close()
    reader.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    interval = Circles.snapshotting_intervals[TherapyGroup]

    def run(events: int, snapshots: bool) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            if args.engine == "sqlite":
                settings = StoreSettings("sqlite", sqlite_path=Path(tmp) / "b5.sqlite3")
            else:
                settings = _fresh_pg_schema(args.database_url)
            try:
                return measure(settings, events, args.rounds if snapshots else 5, snapshots)
            finally:
                if settings.engine == "postgres":
                    _drop_pg_schema(settings)

    # A load replays the events after the last snapshot: 0 to interval-1 of them.
    ratios = []
    for extra in range(interval):
        result = run(args.events + extra, True)
        ratios.append(result["ratio"])
        print(
            f"B5 {args.engine} snapshots on: {result['big_events']} events "
            f"{result['big_ms']:.3f} ms vs {result['small_events']} events "
            f"{result['small_ms']:.3f} ms -> ratio {result['ratio']:.2f}"
        )
    off = run(args.events, False)
    print(
        f"B5 {args.engine} snapshots off: {off['big_events']} events {off['big_ms']:.3f} ms vs "
        f"{off['small_events']} events {off['small_ms']:.3f} ms -> ratio {off['ratio']:.2f}"
    )
    print(
        f"B5 {args.engine} summary (snapshot interval {interval}): mean ratio "
        f"{statistics.mean(ratios):.2f}, worst {max(ratios):.2f}, bar <= 2.0"
    )


def _fresh_pg_schema(url: str) -> StoreSettings:
    import uuid

    import psycopg

    base = StoreSettings.from_url(url)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base.pg_conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return StoreSettings.from_url(f"{url}?schema={schema}")


def _drop_pg_schema(settings: StoreSettings) -> None:
    import psycopg

    with psycopg.connect(settings.pg_conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{settings.pg_schema}" CASCADE')


if __name__ == "__main__":
    main()
