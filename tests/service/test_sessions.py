"""Plans, make-ups, reschedules, cancellations and attendance over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.service.conftest import Api, plan_body, problem

MISSING = "00000000-0000-4000-8000-000000000000"


def test_plan_creates_local_time_sessions_across_dst(api: Api) -> None:
    group = api.group()
    sessions = api.plan(group["id"])
    assert len(sessions) == 12
    assert sessions[0]["starts_at"] == "2027-03-02T18:00:00-05:00"
    assert sessions[2]["starts_at"] == "2027-03-16T18:00:00-04:00"  # after the DST change
    assert sessions[0]["timezone"] == "America/New_York"


def test_plan_errors(api: Api) -> None:
    group = api.group()
    url = f"/groups/{group['id']}/sessions"
    problem(api.post(url, json=plan_body(first_date="2027-02-30")), 422)
    problem(api.post(url, json=plan_body(start_time="25:99")), 422)
    problem(api.post(url, json=plan_body(cadence="every_n_weeks")), 422)
    body = problem(
        api.post(url, json=plan_body(start_time="02:30", first_date="2027-03-14", count=1)), 422
    )
    assert "does not exist" in body["detail"]
    problem(api.post(url, json=plan_body(count=17)), 409)  # course length
    problem(api.post(f"/groups/{MISSING}/sessions", json=plan_body()), 404)
    problem(api.post(url, json=plan_body(), headers={"If-Match": '"9"'}), 412)


def test_double_booking_is_refused_naming_the_session(api: Api) -> None:
    first = api.group()
    taken = api.plan(first["id"])
    other = api.group(name="Other group", facilitator_ids=["t-bob"])  # same room
    body = problem(api.post(f"/groups/{other['id']}/sessions", json=plan_body()), 409)
    assert body["colliding_session_id"] == taken[0]["id"]


def test_get_reschedule_cancel_and_make_up(api: Api) -> None:
    group = api.group()
    sessions = api.plan(group["id"])
    sid = sessions[0]["id"]
    r = api.get(f"/sessions/{sid}")
    assert r.status_code == 200 and r.headers["ETag"] == '"1"'
    problem(api.get(f"/sessions/{MISSING}"), 404)
    r = api.post(
        f"/sessions/{sid}/reschedule",
        json={"starts_at": "2027-03-03T18:00", "reason": "therapist ill"},
    )
    assert r.status_code == 200 and r.get_json()["starts_at"] == "2027-03-03T18:00:00-05:00"
    assert r.get_json()["sequence"] == 1
    problem(
        api.post(
            f"/sessions/{sid}/reschedule", json={"starts_at": "2027-03-09T18:00", "reason": "x"}
        ),
        409,
    )  # overlaps #2
    problem(
        api.post(
            f"/sessions/{sid}/reschedule", json={"starts_at": "2027-03-14T02:30", "reason": "x"}
        ),
        422,
    )
    problem(api.post(f"/sessions/{sid}/reschedule", json={"starts_at": "soon", "reason": "x"}), 422)
    problem(
        api.post(f"/sessions/{sid}/cancel", json={"reason": "x"}, headers={"If-Match": '"1"'}), 412
    )
    r = api.post(f"/sessions/{sid}/cancel", json={"reason": "snow"})
    assert r.get_json()["status"] == "cancelled"
    problem(api.post(f"/sessions/{sid}/cancel", json={"reason": "again"}), 409)
    r = api.post(
        f"/groups/{group['id']}/sessions",
        json={"make_up_for": sid, "starts_at": "2027-05-25T18:00"},
    )
    assert r.status_code == 201 and r.get_json()["sessions"][0]["make_up_for"] == sid
    problem(
        api.post(
            f"/groups/{group['id']}/sessions",
            json={"make_up_for": sid, "starts_at": "2027-06-01T18:00"},
        ),
        409,
    )


def test_attendance_set_corrected_and_refused(api: Api) -> None:
    group = api.group()
    sid = api.plan(group["id"])[0]["id"]
    api.enroll(group["id"], "p-1")
    api.enroll(group["id"], "p-2")
    url = f"/sessions/{sid}/attendance"
    records = {"records": [{"patient_id": "p-1", "status": "present"}]}
    problem(api.put(url, json=records), 409)  # not started yet
    api.clock.set(datetime(2027, 3, 2, 23, 30, tzinfo=UTC))
    r = api.put(url, json=records, role="therapist")
    assert r.status_code == 200
    assert r.get_json()["attendance"] == [{"patient_id": "p-1", "status": "present"}]
    r = api.put(
        url,
        json={
            "records": [
                {"patient_id": "p-1", "status": "late"},
                {"patient_id": "p-2", "status": "absent"},
            ]
        },
    )
    assert {a["patient_id"]: a["status"] for a in r.get_json()["attendance"]} == {
        "p-1": "late",
        "p-2": "absent",
    }
    problem(api.put(url, json=records, role="other_therapist"), 404)  # out of scope
    problem(api.put(url, json={"records": [{"patient_id": "p-9", "status": "present"}]}), 404)
    problem(api.put(url, json={"records": [{"status": "present"}]}), 422)
    problem(api.put(url, json={"records": []}), 422)
    problem(api.put(url, json={"records": [{"patient_id": "p-1", "status": "asleep"}]}), 422)
    problem(api.put(url, json=records, headers={"If-Match": '"1"'}), 412)
    problem(api.put(f"/sessions/{MISSING}/attendance", json=records), 404)


def test_session_history(api: Api) -> None:
    group = api.group()
    sid = api.plan(group["id"])[0]["id"]
    api.post(f"/sessions/{sid}/cancel", json={"reason": "snow"})
    items = api.get(f"/sessions/{sid}/history").get_json()["items"]
    assert [e["type"] for e in items] == ["TherapySession.Scheduled", "TherapySession.Cancelled"]
    assert items[1]["data"]["reason"] == "snow"
    problem(api.get(f"/sessions/{group['id']}/history"), 404)  # a group id is not a session
