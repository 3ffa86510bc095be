"""The feed cache's head on PostgreSQL: other processes' writes arrive by NOTIFY, this
process's own writes at once, and without a listener every request asks the store."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from domain.application import Circles
from projections.store import StoreSettings
from service import create_app, feed_freshness
from service.feed_freshness import StoreHead
from tests.conftest import Clock
from tests.domain.helpers import make_group
from tests.feeds.test_feeds import issue, path_of
from tests.service.conftest import ROLE_KEYS, Api

CANCELLED = b"STATUS:CANCELLED"


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll briefly until ``condition`` holds; False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def web_process(settings: StoreSettings, clock: Clock, keys: dict[str, str]) -> Api:
    """One app instance on the shared schema: what one gunicorn worker holds."""
    flask_app = create_app(
        {"STORE": settings, "CLOCK": clock, "TESTING": True, "PROJECTIONS_INLINE": True}
    )
    return Api(app=flask_app, client=flask_app.test_client(), clock=clock, keys=keys)


def head_of(api: Api) -> StoreHead:
    found: StoreHead = api.app.extensions["circles"].head
    return found


@pytest.fixture
def two_processes(pg_schema: StoreSettings, clock: Clock) -> Iterator[tuple[Api, Api]]:
    """Two web processes on one PostgreSQL schema, sharing the staff keys."""
    keys: dict[str, str] = {}
    here = web_process(pg_schema, clock, keys)
    storage = here.app.extensions["circles"].storage
    for name, (role, therapist_id) in ROLE_KEYS.items():
        keys[name], _ = storage.create_key(role, f"test {name}", therapist_id)
    elsewhere = web_process(pg_schema, clock, keys)
    try:
        yield here, elsewhere
    finally:
        for api in (here, elsewhere):
            api.app.extensions["circles"].close()


def patient_feed(api: Api) -> tuple[str, list[str]]:
    """A group of four sessions with p-1 enrolled: the feed's path and the session ids."""
    group = api.group()
    sessions = [s["id"] for s in api.plan(group["id"], count=4)]
    api.enroll(group["id"], "p-1")
    return path_of(issue(api, "patients", "p-1")["url"]), sessions


def body(api: Api, path: str) -> bytes:
    r = api.get(path, role=None)
    assert r.status_code == 200, r.get_data(as_text=True)
    return bytes(r.data)


def cancel(api: Api, session_id: str) -> None:
    r = api.post(f"/sessions/{session_id}/cancel", json={"reason": "therapist ill"})
    assert r.status_code == 200, r.get_json()


def no_query(*_: Any) -> int:
    raise AssertionError("the head was asked of the store while the listener is live")


def test_a_write_elsewhere_reaches_the_feed_by_notification_without_a_query_per_request(
    two_processes: tuple[Api, Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The listener's periodic check (a safety net) must not be what finds the write.
    monkeypatch.setattr(feed_freshness, "CHECK_SECONDS", 600.0)
    monkeypatch.setattr(feed_freshness, "LEASE_SECONDS", 600.0)
    here, elsewhere = two_processes
    path, sessions = patient_feed(here)
    before = body(here, path)
    assert wait_until(lambda: head_of(here).live)
    etag = here.get(path, role=None).headers["ETag"]
    monkeypatch.setattr(head_of(here), "query", no_query)
    # While live, a 304 costs no round trip to the store.
    assert here.get(path, role=None, headers={"If-None-Match": etag}).status_code == 304

    cancel(elsewhere, sessions[1])

    assert wait_until(lambda: body(here, path) != before, 5), "the notification never arrived"
    assert body(here, path).count(CANCELLED) == 1
    assert here.get(path, role=None, headers={"If-None-Match": etag}).status_code == 200


def deaf(app: Any, settings: StoreSettings, **params: Any) -> Any:
    """A listener on a channel nobody notifies: connected, so live, but deaf."""
    conn = psycopg.connect(settings.pg_conninfo, autocommit=True, **params)
    conn.execute("LISTEN circles_nobody_notifies_this")
    return conn


def test_a_write_here_is_in_the_next_read_without_waiting_for_its_notification(
    pg_schema: StoreSettings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deaf listener that checks the head only when it connects: only the save hook can
    # move the head.
    monkeypatch.setattr(feed_freshness, "listen", deaf)
    monkeypatch.setattr(feed_freshness, "CHECK_SECONDS", 600.0)
    monkeypatch.setattr(feed_freshness, "LEASE_SECONDS", 600.0)
    keys: dict[str, str] = {}
    here = web_process(pg_schema, clock, keys)
    elsewhere = web_process(pg_schema, clock, keys)
    try:
        storage = here.app.extensions["circles"].storage
        keys["coordinator"], _ = storage.create_key("coordinator", "test", None)
        path, sessions = patient_feed(here)
        body(here, path)
        assert wait_until(lambda: head_of(here).live)
        before = body(here, path)

        cancel(here, sessions[0])
        assert body(here, path).count(CANCELLED) == 1  # at once: read-your-writes

        # The contrast that shows the hook is what did it: the deaf listener misses a
        # write made elsewhere, and the page stays as it was.
        cancel(elsewhere, sessions[1])
        assert body(here, path).count(CANCELLED) == 1
        assert before.count(CANCELLED) == 0
    finally:
        for api in (here, elsewhere):
            api.app.extensions["circles"].close()


def test_a_missed_notification_is_caught_by_the_periodic_check(
    two_processes: tuple[Api, Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed_freshness, "listen", deaf)
    monkeypatch.setattr(feed_freshness, "CHECK_SECONDS", 0.2)
    here, elsewhere = two_processes
    path, sessions = patient_feed(here)
    body(here, path)
    assert wait_until(lambda: head_of(here).live)

    cancel(elsewhere, sessions[0])

    assert wait_until(lambda: body(here, path).count(CANCELLED) == 1, 5)


def test_without_a_listener_every_request_asks_the_store(
    two_processes: tuple[Api, Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*_: Any, **__: Any) -> Any:
        raise psycopg.OperationalError("connection refused (test)")

    monkeypatch.setattr(feed_freshness, "listen", unreachable)
    here, elsewhere = two_processes
    path, sessions = patient_feed(here)
    assert body(here, path).count(CANCELLED) == 0
    assert not head_of(here).live

    cancel(elsewhere, sessions[2])

    assert body(here, path).count(CANCELLED) == 1  # the very next request


def test_a_lost_listener_connection_falls_back_then_reconnects(
    two_processes: tuple[Api, Api],
) -> None:
    here, elsewhere = two_processes
    path, sessions = patient_feed(here)
    body(here, path)
    watcher = head_of(here)
    assert wait_until(lambda: watcher.live and watcher.backend_pid is not None)
    backend = watcher.backend_pid
    settings = here.app.extensions["circles"].settings
    with psycopg.connect(settings.pg_conninfo, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
    assert wait_until(lambda: watcher.backend_pid != backend)

    cancel(elsewhere, sessions[0])  # while reconnecting, or just after: seen either way
    assert body(here, path).count(CANCELLED) == 1

    assert wait_until(lambda: watcher.live and watcher.backend_pid not in (None, backend))
    cancel(elsewhere, sessions[3])
    assert wait_until(lambda: body(here, path).count(CANCELLED) == 2)


def test_sqlite_asks_the_store_on_every_request(tmp_path: Path) -> None:
    settings = StoreSettings("sqlite", sqlite_path=tmp_path / "circles.sqlite3")
    flask_app = create_app({"STORE": settings, "TESTING": True})
    other = Circles(env=settings.eventsourcing_env())
    try:
        watcher = head_of(Api(flask_app, flask_app.test_client(), Clock()))
        before = watcher.token()
        make_group(other)  # another process's write
        assert watcher.token() != before and not watcher.live
    finally:
        other.close()
        flask_app.extensions["circles"].close()
