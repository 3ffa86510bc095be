"""R1: capacity and "no double booking" hold across two server processes on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from domain.application import Circles
from tests.deploy.conftest import Cluster, Reply

FEES = {"session_fee": "85.00", "maintenance_fee": "60.00", "no_show_fee": "40.00",
        "late_cancel_fee": "30.00"}  # fmt: skip


def group_body(name: str, facilitator: str, room: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "modality": "ipt", "format": "in_person",
            "facilitator_ids": [facilitator], "room_id": room, "timezone": "Europe/Berlin",
            "currency": "EUR", "fees": FEES, **extra}  # fmt: skip


def all_at_once(cluster: Cluster, requests: list[tuple[int, str, str, Any]]) -> list[Reply]:
    """Send every request at the same moment, spread over the web processes by index."""
    start = threading.Barrier(len(requests))

    def send(req: tuple[int, str, str, Any]) -> Reply:
        start.wait()
        return cluster.request(*req)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


def test_50_concurrent_enrollments_into_5_free_seats(cluster: Cluster) -> None:
    created = cluster.request(0, "POST", "/groups", group_body("R1", "t-r1", "room-r1", max_size=8))
    assert created.status == 201, created.body
    gid = created.body["id"]
    assert cluster.request(0, "POST", f"/groups/{gid}/open", {}).status == 200
    for p in range(3):  # 3 of 8 seats taken: 5 free
        body = {"patient_id": f"early-{p}", "patient_name": f"Early {p}"}
        seated = cluster.request(1, "POST", f"/groups/{gid}/enrollments", body)
        assert seated.status == 201 and seated.body["status"] == "enrolled"

    replies = all_at_once(cluster, [
        (i, "POST", f"/groups/{gid}/enrollments",
         {"patient_id": f"p-{i}", "patient_name": f"Patient {i}"})
        for i in range(50)
    ])  # fmt: skip

    assert [r.status for r in replies] == [201] * 50, [r.body for r in replies if r.status != 201]
    assert Counter(r.body["status"] for r in replies) == {"enrolled": 5, "waitlisted": 45}

    app = Circles(env=cluster.store.eventsourcing_env())
    try:
        group = app.get_group(gid)
        assert len(group.enrolled) == 8 and len(group.waitlist) == 45
        enrolled_now = {r.body["id"] for r in replies if r.body["status"] == "enrolled"}
        for pid in group.enrolled:
            enrollment = app.get_enrollment(group.enrollment_id_of(pid))
            assert enrollment.status.value == "enrolled"
        assert enrolled_now <= {str(group.enrollment_id_of(p)) for p in group.enrolled}
    finally:
        app.close()

    for i, status, count in ((0, "enrolled", 8), (1, "waitlisted", 45)):
        page = cluster.request(i, "GET", f"/groups/{gid}/enrollments?status={status}&limit=200")
        assert page.status == 200 and len(page.body["items"]) == count


def test_20_concurrent_bookings_of_one_room_slot(cluster: Cluster) -> None:
    groups = []
    for n in range(20):  # different therapists: only the room can collide
        created = cluster.request(
            n,
            "POST",
            "/groups",
            group_body(f"G{n}", f"t-{n}", "room-9", length_override_reason="one-off R1 slot"),
        )
        assert created.status == 201, created.body
        groups.append(created.body["id"])
    plan = {"first_date": "2027-05-04", "start_time": "18:00", "duration_minutes": 90,
            "cadence": "weekly", "count": 1}  # fmt: skip

    replies = all_at_once(
        cluster, [(n, "POST", f"/groups/{gid}/sessions", plan) for n, gid in enumerate(groups)]
    )

    statuses = Counter(r.status for r in replies)
    assert statuses == {201: 1, 409: 19}, [r.body for r in replies if r.status not in (201, 409)]
    booked = next(r.body["sessions"][0]["id"] for r in replies if r.status == 201)
    assert all(booked in r.body["detail"] for r in replies if r.status == 409)
    room = cluster.request(1, "GET", "/rooms/room-9/sessions?limit=200")
    assert room.status == 200 and [s["id"] for s in room.body["items"]] == [booked]
