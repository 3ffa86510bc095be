"""R2: the projection worker SIGKILLed in the middle of a large catch-up, then restarted,
leaves views equal to a clean rebuild of the same events."""

from __future__ import annotations

import time

from bench.history import write_history
from domain.application import Circles
from projections.rebuild import rebuild
from projections.runner import Projector
from tests.deploy.conftest import Cluster

EVENTS = 40_000


def test_worker_killed_mid_catch_up_resumes_to_a_clean_rebuild(worker_only: Cluster) -> None:
    cluster = worker_only
    app = Circles(env=cluster.store.eventsourcing_env())
    views = Projector(app, cluster.store)
    try:
        write_history(app, EVENTS)  # written before the worker starts: one large catch-up
        head = views.head()
        assert views.position() == 0 and head >= EVENTS

        cluster.start_worker()
        deadline = time.monotonic() + 60
        while views.position() < head // 4:
            assert cluster.worker is not None and cluster.worker.poll() is None
            assert time.monotonic() < deadline, cluster.log("worker")
            time.sleep(0.005)
        cluster.kill_worker()
        killed_at = views.position()
        assert head // 10 <= killed_at <= head * 9 // 10, (killed_at, head)

        cluster.start_worker()  # resumes from the tracking position committed with the views
        deadline = time.monotonic() + 90
        while views.position() < head:
            assert cluster.worker is not None and cluster.worker.poll() is None
            assert time.monotonic() < deadline, cluster.log("worker")
            time.sleep(0.05)
        cluster.stop_worker()
        by_worker = views.dump()
        assert sum(len(rows) for rows in by_worker.values()) > EVENTS // 10

        assert rebuild(app, cluster.store, restart=True) == head
        assert views.dump() == by_worker
    finally:
        views.close()
        app.close()
