"""B4: a patient's feed and a month's cost report with 1M events stored vs. 10k.

Two fresh PostgreSQL schemas hold the same clinic history (``bench/history.py``: groups,
sessions, enrollments with intake, attendance, fee changes, a withdrawal with promotion,
a reschedule and a cancellation per group), one grown to ~10k events and one to ~1M.
Groups start two a week, so the measured month (March 2020) and the measured patient
(``g10-p3``, 16 sessions) are the same in both stores: only the amount of *other*
history differs. The big store's views are built by the rebuild command in a child
process, timed, with its peak RSS (``wait4``). Then, side by side in one run (requests
alternate between the two stores), the in-process WSGI app answers:

* ``GET /feeds/{token}.ics`` rendered each time (feed cache emptied before each request),
* the same, served from the feed cache (what a calendar's re-poll usually gets),
* ``GET /reports/costs?from=2020-03-01&to=2020-03-31`` (billing key),

and the p50 ratios big/small are printed (bar: <= 1.5).

    .venv/bin/python -m bench.b4_scale [--small 10000] [--big 1000000] [--requests 300]
                                       [--keep]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.history import patient_id, write_history
from domain.application import Circles
from projections.rebuild import rebuild
from projections.store import StoreSettings
from service import create_app

PG_URL = os.environ.get("CIRCLES_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent
PATIENT = patient_id(10, 3)
MONTH = "from=2020-03-01&to=2020-03-31"
NOW = datetime(2020, 3, 15, 12, 0, tzinfo=UTC)


def new_schema(label: str) -> tuple[StoreSettings, str]:
    import psycopg

    base = StoreSettings.from_url(PG_URL)
    schema = f"b4_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base.pg_conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
    return StoreSettings.from_url(url), url


def drop(settings: StoreSettings) -> None:
    import psycopg

    with psycopg.connect(settings.pg_conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{settings.pg_schema}" CASCADE')


def generate(settings: StoreSettings, events: int) -> tuple[int, float]:
    app = Circles(env=settings.eventsourcing_env())
    started = time.perf_counter()

    def progress(done: int, elapsed: float) -> None:
        if done and elapsed > 0:
            print(f"\r  {done:,} events  {done / elapsed:,.0f} ev/s", end="", file=sys.stderr)

    write_history(app, events, groups_per_save=40, progress=progress)
    count = int(app.recorder.max_notification_id() or 0)
    app.close()
    print(file=sys.stderr)
    return count, time.perf_counter() - started


def rebuild_in_child(url: str) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of ``python -m projections.rebuild --restart``."""
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    env.pop("CIPHER_KEY", None)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "projections.rebuild", "--restart"], cwd=ROOT, env=env,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, "rebuild failed"
    return time.perf_counter() - started, int(usage.ru_maxrss)


class Target:
    """The WSGI app on one store, with a billing key and the measured patient's feed."""

    def __init__(self, settings: StoreSettings) -> None:
        # "Now" is mid-history, so the patient's course is inside the feed's window.
        self.app = create_app({"STORE": settings, "TESTING": True, "CLOCK": lambda: NOW})
        services = self.app.extensions["circles"]
        self.services = services
        self.client = self.app.test_client()
        coordinator, _ = services.storage.create_key("coordinator", "b4")
        billing, _ = services.storage.create_key("billing", "b4")
        self.billing = {"Authorization": f"Bearer {billing}"}
        issued = self.client.post(
            f"/patients/{PATIENT}/feed-tokens", headers={"Authorization": f"Bearer {coordinator}"}
        )
        assert issued.status_code == 201, issued.get_data(as_text=True)
        self.feed = f"/feeds/{issued.get_json()['token']}.ics"

    def feed_cold(self) -> Any:
        self.services.extra.pop("feed_cache", None)
        return self.client.get(self.feed)

    def feed_warm(self) -> Any:
        return self.client.get(self.feed)

    def month(self) -> Any:
        return self.client.get(f"/reports/costs?{MONTH}", headers=self.billing)

    def close(self) -> None:
        self.services.close()


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the two schemas")
    args = parser.parse_args()
    made: list[StoreSettings] = []
    try:
        small, small_url = new_schema("small")
        made.append(small)
        big, big_url = new_schema("big")
        made.append(big)
        n_small, t = generate(small, args.small)
        print(f"small store: {n_small:,} events written in {t:.1f}s")
        n_big, t = generate(big, args.big)
        print(f"big store:   {n_big:,} events written in {t:.1f}s ({n_big / t:,.0f} ev/s)")
        app = Circles(env=small.eventsourcing_env())
        rebuild(app, small, restart=True)
        app.close()
        seconds, rss = rebuild_in_child(big_url)
        print(
            f"rebuild of all views from {n_big:,} events (child process): {seconds:.1f}s "
            f"({n_big / seconds:,.0f} ev/s), peak RSS {rss / 1024:.0f} MiB"
        )

        targets = {"small": Target(small), "big": Target(big)}
        reports = {k: t.month().get_json() for k, t in targets.items()}
        totals = {
            k: sorted((g["total"], g["lines"], g["billable"]) for g in r["groups"])
            for k, r in reports.items()
        }
        assert totals["small"] == totals["big"], "the measured month differs between the stores"
        feeds = {k: t.feed_cold().get_data().count(b"BEGIN:VEVENT") for k, t in targets.items()}
        assert feeds["small"] == feeds["big"] == 16, feeds
        kinds = {"feed (rendered)": "feed_cold", "feed (cached)": "feed_warm", "month": "month"}
        times: dict[tuple[str, str], list[float]] = {}
        for i in range(args.requests + 20):  # the first 20 of each warm up, uncounted
            for size, target in targets.items():
                for kind, method in kinds.items():
                    elapsed = timed(getattr(target, method))
                    if i >= 20:
                        times.setdefault((kind, size), []).append(elapsed)
        print(f"\np50 over {args.requests} requests each, alternating stores (ms):")
        print(f"{'':18}{n_small:>12,}{n_big:>12,}   ratio (bar <= 1.5)")
        for kind in kinds:
            p_small = statistics.median(times[(kind, "small")]) * 1000
            p_big = statistics.median(times[(kind, "big")]) * 1000
            print(f"{kind:18}{p_small:>12.2f}{p_big:>12.2f}   {p_big / p_small:.2f}")
        print(
            f"month report: {len(reports['small']['sessions'])} sessions, "
            f"{len(reports['small']['groups'])} groups; feed: 16 sessions"
        )
        for target in targets.values():
            target.close()
    finally:
        if not args.keep:
            for settings in made:
                drop(settings)


if __name__ == "__main__":
    main()
