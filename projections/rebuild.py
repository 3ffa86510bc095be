"""Rebuild every view from the first event, with progress; safe to kill at any point.

Starting a rebuild drops and recreates all view tables, rewinds the tracking position to
zero and leaves a "rebuild in progress" mark, all in one transaction. Then it catches up
in batches, each batch committed together with its tracking position. So whatever moment
a ``SIGKILL`` lands, the database holds a consistent (views, position) pair: either the old
views (the first transaction never committed) or the first N events' worth of views plus
the mark. Run again, the command sees the mark and resumes from the position instead of
starting over; the result is the same as an uninterrupted rebuild.

    python -m projections.rebuild [--batch-size N] [--restart]

reads the store from the environment like the service (``DATABASE_URL``,
``CIRCLES_DATA_DIR``, ``CIPHER_KEY``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from eventsourcing.application import Application

from projections.runner import BATCH_SIZE, Projector
from projections.store import StoreSettings

# PostgreSQL rebuilds take larger batches than catch-up (fewer transactions, longer runs of
# one statement for COPY) and read the next batch while this one commits; memory stays
# bounded by two batches. On SQLite neither helped (measured: B2 in docs/benchmarks.md).
POSTGRES_BATCH_SIZE = 5000


@dataclass(frozen=True)
class Progress:
    done: int  # notification position reached
    total: int  # the store's head when the rebuild (re)started
    elapsed: float  # seconds in this run
    rate: float  # events per second in this run
    resumed_from: int

    @property
    def eta(self) -> float | None:
        if self.rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.rate)


def rebuild(
    app: Application[Any],
    settings: StoreSettings,
    progress: Callable[[Progress], None] | None = None,
    batch_size: int | None = None,
    restart: bool = False,
) -> int:
    """Rebuild all views; resume an interrupted rebuild unless ``restart``. Returns the position."""
    postgres = settings.engine == "postgres"
    if batch_size is None:
        batch_size = POSTGRES_BATCH_SIZE if postgres else BATCH_SIZE
    projector = Projector(app, settings, batch_size=batch_size, read_ahead=postgres)
    try:
        if restart or not projector.rebuild_in_progress():
            projector.begin_rebuild()
        started, first = time.monotonic(), projector.position()
        total = max(projector.head(), first)

        def report() -> None:
            if progress is not None:
                done = projector.position()
                elapsed = time.monotonic() - started
                rate = (done - first) / elapsed if elapsed > 0 else 0.0
                progress(Progress(done, max(total, done), elapsed, rate, first))

        report()
        while projector.step():
            report()
        projector.finish_rebuild()
        return projector.position()
    finally:
        projector.close()


class ProgressBar:
    """``[#####.....] 12,000/200,000 events  8,500 ev/s  ETA 0:00:22`` on one line."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30, every: float = 0.1) -> None:
        self.stream, self.width, self.every = stream, width, every
        self._last = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self._last < self.every and p.done < p.total:
            return
        self._last = now
        filled = self.width * p.done // p.total if p.total else self.width
        eta = "--:--:--" if p.eta is None else time.strftime("%H:%M:%S", time.gmtime(p.eta))
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {p.done:,}/{p.total:,} events"
            f"  {p.rate:,.0f} ev/s  ETA {eta}"
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m projections.rebuild", description=__doc__)
    parser.add_argument(
        "--batch-size",
        type=int,
        help=f"events per transaction (default {POSTGRES_BATCH_SIZE:,} on PostgreSQL,"
        f" {BATCH_SIZE:,} on SQLite)",
    )
    parser.add_argument(
        "--restart", action="store_true", help="start over even if a rebuild was interrupted"
    )
    args = parser.parse_args(argv)
    from domain.application import Circles

    settings = StoreSettings.from_env()
    # One reader is all a rebuild needs; PostgreSQL pools open their minimum eagerly.
    small_pool = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "2"}
    app = Circles(env={**settings.eventsourcing_env(), **small_pool})
    bar = ProgressBar()
    try:
        position = rebuild(app, settings, bar, batch_size=args.batch_size, restart=args.restart)
    finally:
        bar.close()
        app.close()
    print(f"views rebuilt up to event {position:,}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
