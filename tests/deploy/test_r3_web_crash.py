"""R3: a web process SIGKILLed during a write load loses nothing it acknowledged.

Eight clients create groups, plan their sessions (a session per week, each booking the
therapist and the room: several aggregates in one transaction), enroll patients (group
and enrollment together) and withdraw some (group, enrollment and a promoted enrollment
together), spread over both web processes. Mid-load one web process is killed with its
workers, then restarted on the same port while the load goes on. Afterwards every command
answered 2xx is in the event store and in the worker's views, every multi-aggregate
command is all-or-nothing, and the views equal a clean rebuild.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from domain.application import Circles
from domain.enrollment import Enrollment
from domain.group import TherapyGroup
from domain.session import TherapySession
from domain.values import EnrollmentStatus
from tests.deploy.conftest import Cluster, dump_views, rebuild_views
from tests.deploy.test_r1_concurrency import group_body

CLIENTS = 8
PLAN = {"first_date": "2027-09-07", "start_time": "17:00", "duration_minutes": 90,
        "cadence": "weekly", "count": 12}  # fmt: skip


@dataclass
class Acknowledged:
    """What the clients were told succeeded (2xx), and everything else they saw."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    groups: dict[str, str] = field(default_factory=dict)  # id -> room
    sessions: dict[str, str] = field(default_factory=dict)  # session id -> group id
    enrollments: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (group, pid)
    enrolled: list[str] = field(default_factory=list)
    withdrawn: set[str] = field(default_factory=set)
    unanswered: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def drive(cluster: Cluster, acked: Acknowledged, stop: threading.Event, seed: int) -> None:
    rnd = random.Random(seed)
    n = 0
    while not stop.is_set():
        n += 1
        with acked.lock:
            groups = list(acked.groups)
            enrolled = [e for e in acked.enrolled if e not in acked.withdrawn]
        try:
            if not groups or rnd.random() < 0.15:
                new_group(cluster, acked, rnd.randrange(2), f"{seed}-{n}")
            elif enrolled and rnd.random() < 0.15:
                withdraw(cluster, acked, rnd.randrange(2), rnd.choice(enrolled))
            else:
                enroll(cluster, acked, rnd.randrange(2), rnd.choice(groups))
        except OSError:  # connection refused or reset: the server died, nothing was answered
            with acked.lock:
                acked.unanswered += 1
            time.sleep(0.05)


def new_group(cluster: Cluster, acked: Acknowledged, server: int, tag: str) -> None:
    room = f"room-{tag}"
    r = cluster.request(server, "POST", "/groups", group_body(f"R3 {tag}", f"t-{tag}", room))
    record(acked, r.status)
    if r.status == 201:
        gid = r.body["id"]
        with acked.lock:
            acked.groups[gid] = room
        o = cluster.request(server, "POST", f"/groups/{gid}/open", {})
        record(acked, o.status)
        p = cluster.request(server, "POST", f"/groups/{gid}/sessions", PLAN)
        record(acked, p.status)
        if p.status == 201:
            with acked.lock:
                acked.sessions.update({s["id"]: gid for s in p.body["sessions"]})


def withdraw(cluster: Cluster, acked: Acknowledged, server: int, eid: str) -> None:
    r = cluster.request(server, "POST", f"/enrollments/{eid}/withdraw", {"reason": "moved"})
    record(acked, r.status)
    if r.status == 200:
        with acked.lock:
            acked.withdrawn.add(eid)


def enroll(cluster: Cluster, acked: Acknowledged, server: int, gid: str) -> None:
    pid = f"p-{uuid.uuid4().hex[:10]}"
    r = cluster.request(server, "POST", f"/groups/{gid}/enrollments",
                        {"patient_id": pid, "patient_name": "R3 patient"})  # fmt: skip
    record(acked, r.status)
    if r.status == 201:
        with acked.lock:
            acked.enrollments[r.body["id"]] = (gid, pid)
            if r.body["status"] == "enrolled":
                acked.enrolled.append(r.body["id"])


def record(acked: Acknowledged, status: int) -> None:
    with acked.lock:
        acked.statuses[status] = acked.statuses.get(status, 0) + 1


def test_every_acknowledged_command_survives_a_killed_web_process(cluster: Cluster) -> None:
    cluster.start_worker()
    acked = Acknowledged()
    stop = threading.Event()
    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = [pool.submit(drive, cluster, acked, stop, seed) for seed in range(CLIENTS)]
        time.sleep(3)
        cluster.kill_web(0)  # master and its workers, mid-request
        time.sleep(1)
        cluster.start_web(0)  # same port
        time.sleep(3)
        stop.set()
        for client in clients:
            client.result()

    assert acked.unanswered > 0, "the kill landed when no request was in flight"
    assert not [s for s in acked.statuses if s >= 500], acked.statuses
    assert len(acked.groups) >= 5 and len(acked.enrollments) >= 20, acked.statuses
    print(f"R3 load: {len(acked.groups)} groups, {len(acked.sessions)} sessions, "
          f"{len(acked.enrollments)} enrollments, {len(acked.withdrawn)} withdrawals "
          f"acknowledged; {acked.unanswered} unanswered; statuses {acked.statuses}")  # fmt: skip

    app = Circles(env=cluster.store.eventsourcing_env())
    try:
        store = everything_in_the_store(app)
        # Every 2xx is in the store.
        assert set(acked.groups) <= set(store.groups)
        assert set(acked.sessions) <= set(store.sessions)
        assert set(acked.enrollments) <= set(store.enrollments)
        for eid, (gid, pid) in acked.enrollments.items():
            enrollment = store.enrollments[eid]
            assert (str(enrollment.group_id), enrollment.patient_id) == (gid, pid)
        for eid in acked.withdrawn:
            assert store.enrollments[eid].status is EnrollmentStatus.WITHDRAWN
        for sid, gid in acked.sessions.items():
            assert str(store.sessions[sid].group_id) == gid
        # Nothing half-applied: each side of every multi-aggregate command agrees.
        assert_consistent(store)
    finally:
        app.close()

    # Every 2xx is in the worker's views.
    cluster.wait_projected()
    listed = list_all(cluster, "/groups")
    assert set(acked.groups) <= {g["id"] for g in listed}
    for gid in acked.groups:
        rows = {e["id"]: e["status"] for e in list_all(cluster, f"/groups/{gid}/enrollments")}
        group = store.groups[gid]
        assert rows == {
            str(group.enrollment_id_of(p)): s
            for p, s in [(p, "enrolled") for p in group.enrolled]
            + [(p, "waitlisted") for p in group.waitlist]
            + [
                (e.patient_id, e.status.value)
                for e in store.enrollments.values()
                if str(e.group_id) == gid and e.status is EnrollmentStatus.WITHDRAWN
            ]
        }
        room = list_all(cluster, f"/rooms/{acked.groups[gid]}/sessions")
        assert {s["id"] for s in room} == {str(s) for s in group.session_ids}

    # The views the worker built equal a clean rebuild.
    cluster.stop_worker()
    built_by_worker = dump_views(cluster.store)
    assert len(built_by_worker) >= 8 and built_by_worker["view_groups"]
    rebuild_views(cluster.env)
    assert dump_views(cluster.store) == built_by_worker


@dataclass
class Store:
    groups: dict[str, TherapyGroup]
    sessions: dict[str, TherapySession]
    enrollments: dict[str, Enrollment]


def everything_in_the_store(app: Circles) -> Store:
    """Every group, session and enrollment, found from the notification log and loaded."""
    ids: dict[type, set[Any]] = {TherapyGroup: set(), TherapySession: set(), Enrollment: set()}
    position = 0
    while batch := app.recorder.select_notifications(position, 1000, inclusive_of_start=False):
        for notification in batch:
            event = app.mapper.to_domain_event(notification)
            for cls, found in ids.items():
                if type(event).__qualname__.startswith(cls.__name__ + "."):
                    found.add(event.originator_id)
        position = batch[-1].id
    loaded: dict[type, dict[str, Any]] = {
        cls: {str(i): app.repository.get(i) for i in found} for cls, found in ids.items()
    }
    return Store(loaded[TherapyGroup], loaded[TherapySession], loaded[Enrollment])


def assert_consistent(store: Store) -> None:
    for gid, group in store.groups.items():
        assert len(group.enrolled) <= group.max_size
        for patient_id, status in [(p, EnrollmentStatus.ENROLLED) for p in group.enrolled] + [
            (p, EnrollmentStatus.WAITLISTED) for p in group.waitlist
        ]:
            enrollment = store.enrollments[str(group.enrollment_id_of(patient_id))]
            assert enrollment.status is status, (gid, patient_id)
        for session_id in group.session_ids:
            assert str(store.sessions[str(session_id)].group_id) == gid
    for eid, enrollment in store.enrollments.items():
        group = store.groups[str(enrollment.group_id)]
        seated = enrollment.patient_id in group.enrolled
        waiting = enrollment.patient_id in group.waitlist
        expected = {EnrollmentStatus.ENROLLED: (True, False),
                    EnrollmentStatus.WAITLISTED: (False, True)}  # fmt: skip
        assert (seated, waiting) == expected.get(enrollment.status, (False, False)), eid
    for key, session in store.sessions.items():
        assert session.id in store.groups[str(session.group_id)].session_ids, key


def list_all(cluster: Cluster, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = cluster.request(1, "GET", url)
        assert page.status == 200, page.body
        items += page.body["items"]
        cursor = page.body["next_cursor"]
        if not cursor:
            return items
