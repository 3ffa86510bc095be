"""Rebuild: equals catch-up, reports progress, and survives SIGKILL at any point."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time

import pytest

from domain.application import Circles
from projections.rebuild import Progress, ProgressBar, rebuild
from projections.runner import Projector
from projections.store import StoreSettings
from tests.conftest import Clock
from tests.projections.conftest import World
from tests.projections.scenario import populate
from tests.projections.test_runner import ROOT, store_env


def test_rebuild_gives_the_views_catch_up_built_and_reports_progress(world: World) -> None:
    populate(world.app, world.clock, groups=2)
    world.sync()
    caught_up = world.views.dump()
    seen: list[Progress] = []
    position = rebuild(world.app, world.views.settings, seen.append, batch_size=50)
    assert position == world.app.recorder.max_notification_id()
    assert world.views.dump() == caught_up
    assert seen[0].done == 0 and seen[-1].done == seen[-1].total == position
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert len(seen) > 3 and seen[-1].eta == 0
    assert not world.views.rebuild_in_progress()


def test_progress_bar_shows_events_rate_and_time_left() -> None:
    out = io.StringIO()
    bar = ProgressBar(out, width=10, every=0)
    bar(Progress(done=50_000, total=200_000, elapsed=5.0, rate=10_000.0, resumed_from=0))
    assert out.getvalue() == "\r[##........] 50,000/200,000 events  10,000 ev/s  ETA 00:00:15"


def _wait_for_position(views: Projector, at_least: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if views.rebuild_in_progress() and views.position() >= at_least:
                return
        except Exception:  # noqa: BLE001 - the tables may be mid-swap; look again
            pass
        time.sleep(0.002)


@pytest.mark.parametrize("kill_at", ["start", "early", "middle", "late"])
def test_a_rebuild_killed_at_any_point_resumes_to_a_clean_rebuild(
    durable_store: StoreSettings, clock: Clock, kill_at: str
) -> None:
    app = Circles(env=durable_store.eventsourcing_env(), clock=clock)
    populate(app, clock, groups=8)
    views = Projector(app, durable_store)
    views.catch_up()
    expected = views.dump()
    head = views.head()
    command = [sys.executable, "-m", "projections.rebuild", "--batch-size", "10"]
    env = {**store_env(durable_store), "CREATE_TABLE": "no"}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    threshold = {"start": -1, "early": 1, "middle": head // 2, "late": head * 9 // 10}[kill_at]
    if threshold >= 0:
        _wait_for_position(views, threshold, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    if kill_at != "start":
        assert proc.returncode == -signal.SIGKILL, "the rebuild finished before it was killed"
        assert views.rebuild_in_progress()
        assert views.position() < head
    resumed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "events" in resumed.stderr and f"rebuilt up to event {head:,}" in resumed.stderr
    assert not views.rebuild_in_progress()
    assert views.dump() == expected
    views.close()
    app.close()
