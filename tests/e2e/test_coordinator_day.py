"""A coordinator's day over real HTTP against gunicorn (two workers), SQLite then PostgreSQL."""

from __future__ import annotations

from tests.e2e.conftest import Server, cli

FEES = {"session_fee": "85.00", "maintenance_fee": "60.00", "no_show_fee": "40.00",
        "late_cancel_fee": "30.00"}  # fmt: skip


def test_a_coordinators_day(server: Server) -> None:
    status, group, headers = server.request("POST", "/groups", {
        "name": "Moved-in IPT", "modality": "ipt", "format": "in_person",
        "facilitator_ids": ["t-ana"], "room_id": "room-7", "timezone": "Europe/Berlin",
        "currency": "EUR", "fees": FEES, "max_size": 2, "min_size": 2})  # fmt: skip
    assert status == 201 and headers["ETag"] == '"1"'
    gid = group["id"]

    # A running group moved into Circles: its plan starts in the past.
    status, plan, _ = server.request("POST", f"/groups/{gid}/sessions", {
        "first_date": "2024-01-09", "start_time": "18:00", "duration_minutes": 90,
        "cadence": "weekly", "count": 12})  # fmt: skip
    assert status == 201 and len(plan["sessions"]) == 12
    first = plan["sessions"][0]
    status, opened, _ = server.request("POST", f"/groups/{gid}/open", {})
    assert status == 200 and opened["status"] == "open"

    since = "2024-01-01T09:00:00+01:00"
    enrolled = []
    for pid in ("p-1", "p-2", "p-3"):
        status, row, _ = server.request(
            "POST",
            f"/groups/{gid}/enrollments",
            {"patient_id": pid, "patient_name": pid.upper(), "enrolled_since": since},
        )
        assert status == 201
        enrolled.append(row)
    assert [e["status"] for e in enrolled] == ["enrolled", "enrolled", "waitlisted"]

    # The course met long ago, so it is closed to newcomers: seating p-3 needs a reason.
    status, out, _ = server.request(
        "POST",
        f"/enrollments/{enrolled[1]['id']}/withdraw",
        {"reason": "moved away", "admission_override_reason": "p-3 attended from the start"},
    )
    assert status == 200 and out["promoted_enrollment_id"] == enrolled[2]["id"]
    status, page, _ = server.request("GET", f"/groups/{gid}/enrollments?status=enrolled")
    assert {e["patient_id"] for e in page["items"]} == {"p-1", "p-3"}

    status, session, _ = server.request(
        "PUT",
        f"/sessions/{first['id']}/attendance",
        {"records": [{"patient_id": "p-1", "status": "present"}]},
    )
    assert status == 200 and session["attendance"] == [{"patient_id": "p-1", "status": "present"}]

    status, report, _ = server.request("GET", f"/reports/costs?group_id={gid}")
    assert status == 200 and report["groups"][0]["total"] == "85.00"
    status, listed, _ = server.request("GET", "/groups")
    assert [g["id"] for g in listed["items"]] == [gid]

    status, problem, headers = server.request("POST", "/groups", {"name": 1})
    assert status == 422 and headers["Content-Type"] == "application/problem+json"
    assert cli(server.env, "create-api-key", "--role", "billing", "--name", "x").startswith("ck_")
