"""R2: the projection worker SIGKILLed in the middle of a large catch-up, then restarted,
leaves views equal to a clean rebuild of the same events."""

from __future__ import annotations

import time

from bench.history import write_history
from domain.application import Circles
from tests.deploy.conftest import Cluster, dump_views, rebuild_views, views_position

EVENTS = 40_000


def test_worker_killed_mid_catch_up_resumes_to_a_clean_rebuild(worker_only: Cluster) -> None:
    cluster = worker_only
    app = Circles(env=cluster.store.eventsourcing_env())
    try:
        write_history(app, EVENTS)  # written before the worker starts: one large catch-up
        head = int(app.recorder.max_notification_id() or 0)
    finally:
        app.close()
    assert head >= EVENTS

    cluster.start_worker()
    deadline = time.monotonic() + 60
    while views_position(cluster.store) < head // 4:
        assert cluster.worker is not None and cluster.worker.poll() is None
        assert time.monotonic() < deadline, cluster.log("worker")
        time.sleep(0.005)
    cluster.kill_worker()
    killed_at = views_position(cluster.store)
    assert head // 10 <= killed_at <= head * 9 // 10, (killed_at, head)

    cluster.start_worker()  # resumes from the tracking position committed with the views
    deadline = time.monotonic() + 90
    while views_position(cluster.store) < head:
        assert cluster.worker is not None and cluster.worker.poll() is None
        assert time.monotonic() < deadline, cluster.log("worker")
        time.sleep(0.05)
    cluster.stop_worker()
    by_worker = dump_views(cluster.store)
    assert sum(len(rows) for rows in by_worker.values()) > EVENTS // 10

    rebuild_views(cluster.env)
    assert dump_views(cluster.store) == by_worker
