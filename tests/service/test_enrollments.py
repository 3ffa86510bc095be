"""Enrollment with capacity and waitlist, intake, withdrawal with promotion."""

from __future__ import annotations

from tests.service.conftest import Api, problem

MISSING = "00000000-0000-4000-8000-000000000000"


def test_enroll_past_capacity_waitlists_and_withdraw_promotes(api: Api) -> None:
    group = api.group(max_size=2, min_size=1)
    gid = group["id"]
    assert api.enroll(gid, "p-1")["status"] == "enrolled"
    assert api.enroll(gid, "p-2")["status"] == "enrolled"
    waiting = api.enroll(gid, "p-3")
    assert waiting["status"] == "waitlisted"
    rows = api.get(f"/groups/{gid}/enrollments").get_json()["items"]
    assert [(e["patient_id"], e["waitlist_position"]) for e in rows] == [
        ("p-1", None),
        ("p-2", None),
        ("p-3", 1),
    ]
    first = rows[0]["id"]
    r = api.post(f"/enrollments/{first}/withdraw", json={"reason": "moved away"})
    assert r.status_code == 200
    assert r.get_json()["status"] == "withdrawn"
    assert r.get_json()["promoted_enrollment_id"] == waiting["id"]
    assert api.get(f"/enrollments/{waiting['id']}").get_json()["status"] == "enrolled"
    assert api.get(f"/groups/{gid}").get_json()["enrolled_count"] == 2
    page = api.get(f"/groups/{gid}/enrollments?status=withdrawn").get_json()
    assert [e["patient_id"] for e in page["items"]] == ["p-1"]
    problem(api.post(f"/enrollments/{first}/withdraw", json={"reason": "again"}), 409)


def test_enroll_errors(api: Api) -> None:
    group = api.group()
    gid = group["id"]
    api.enroll(gid, "p-1")
    body = problem(
        api.post(f"/groups/{gid}/enrollments", json={"patient_id": "p-1", "patient_name": "Again"}),
        409,
    )
    assert "already" in body["detail"]
    problem(api.post(f"/groups/{gid}/enrollments", json={"patient_id": "p 2"}), 422)
    problem(
        api.post(f"/groups/{MISSING}/enrollments", json={"patient_id": "p-2", "patient_name": "X"}),
        404,
    )
    problem(
        api.post(
            f"/groups/{gid}/enrollments",
            headers={"If-Match": '"1"'},
            json={"patient_id": "p-2", "patient_name": "X"},
        ),
        412,
    )
    # SPEC §5: a time without an offset is the group's wall-clock time (New York here).
    r = api.post(
        f"/groups/{gid}/enrollments",
        json={"patient_id": "p-2", "patient_name": "X", "enrolled_since": "2027-01-01T09:00"},
    )
    assert r.status_code == 201 and r.get_json()["enrolled_at"] == "2027-01-01T09:00:00-05:00"
    problem(api.get(f"/groups/{MISSING}/enrollments"), 404)


def test_intake_and_history(api: Api) -> None:
    group = api.group()
    enrollment = api.enroll(group["id"], "p-1")
    url = f"/enrollments/{enrollment['id']}"
    r = api.post(
        f"{url}/intake",
        json={"primary_area": "grief", "inventory_done": True},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200 and r.get_json()["primary_area"] == "grief"
    problem(api.post(f"{url}/intake", json={"primary_area": "grief", "inventory_done": False}), 422)
    problem(
        api.post(
            f"{url}/intake",
            json={"primary_area": "grief", "inventory_done": True},
            headers={"If-Match": '"1"'},
        ),
        412,
    )
    problem(
        api.post(
            f"/enrollments/{MISSING}/intake", json={"primary_area": "grief", "inventory_done": True}
        ),
        404,
    )
    api.post(f"{url}/withdraw", json={"reason": "x"})
    problem(api.post(f"{url}/intake", json={"primary_area": "grief", "inventory_done": True}), 409)
    events = api.get(f"{url}/history").get_json()["items"]
    assert [e["type"] for e in events] == [
        "Enrollment.Created",
        "Enrollment.IntakeRecorded",
        "Enrollment.Withdrawn",
    ]
    problem(api.get(f"/enrollments/{MISSING}"), 404)
    problem(api.get(f"/enrollments/{MISSING}/history"), 404)
