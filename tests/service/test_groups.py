"""/groups routes: happy paths and every error status they can give."""

from __future__ import annotations

from tests.service.conftest import Api, group_body, problem

MISSING = "00000000-0000-4000-8000-000000000000"


def test_create_group_answers_the_group_with_etag_and_location(api: Api) -> None:
    r = api.post("/groups", json=group_body(max_size=6))
    assert r.status_code == 201
    body = r.get_json()
    assert body["status"] == "planned" and body["max_size"] == 6 and body["free_seats"] == 6
    assert body["fees"]["session_fee"] == "85.00"
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == f"/groups/{body['id']}"


def test_create_group_refuses_invalid_fields_with_422_naming_them(api: Api) -> None:
    body = problem(api.post("/groups", json=group_body(timezone="Mars/Olympus")), 422)
    assert "timezone" in body["errors"]
    body = problem(
        api.post("/groups", json=group_body(fees={**group_body()["fees"], "session_fee": 85.5})),
        422,
    )
    assert "fees.session_fee" in body["errors"]
    body = problem(api.post("/groups", json=group_body(format="online")), 422)
    assert "video_url" in body["errors"] or "room_id" in body["errors"]
    problem(api.post("/groups", json=group_body(surprise=1)), 422)


def test_get_group_and_unknown_ids_are_404(api: Api) -> None:
    group = api.group(opened=False)
    r = api.get(f"/groups/{group['id']}", role="billing")
    assert r.status_code == 200 and r.get_json()["name"] == group["name"]
    assert r.headers["ETag"] == '"1"'
    problem(api.get(f"/groups/{MISSING}"), 404)
    problem(api.get("/groups/not-a-uuid"), 404)


def test_therapist_sees_only_groups_they_facilitate(api: Api) -> None:
    mine = api.group()
    other = api.group(name="Other", facilitator_ids=["t-bob"], room_id="room-9")
    assert api.get(f"/groups/{mine['id']}", role="therapist").status_code == 200
    # Out of scope is not found: the answer an unknown id gets, naming nothing.
    hidden = problem(api.get(f"/groups/{other['id']}", role="therapist"), 404)
    assert hidden["detail"] == f"no group with id {other['id']}"
    listed = api.get("/groups", role="therapist").get_json()["items"]
    assert [g["id"] for g in listed] == [mine["id"]]


def test_list_groups_pages_and_reads_its_own_writes(api: Api) -> None:
    ids = [api.group(opened=False, name=f"G{i}", room_id=f"room-{i}")["id"] for i in range(3)]
    first = api.get("/groups?limit=2").get_json()
    assert [g["id"] for g in first["items"]] == ids[:2] and first["next_cursor"]
    second = api.get(f"/groups?limit=2&cursor={first['next_cursor']}").get_json()
    assert [g["id"] for g in second["items"]] == ids[2:] and second["next_cursor"] is None
    assert api.get("/groups?status=planned").get_json()["items"][0]["status"] == "planned"
    problem(api.get("/groups?limit=0"), 422)
    problem(api.get("/groups?cursor=%21%21"), 422)
    problem(api.get("/groups?status=bogus"), 422)


def test_patch_group_with_if_match(api: Api) -> None:
    group = api.group(opened=False)
    url = f"/groups/{group['id']}"
    r = api.patch(url, json={"name": "Renamed", "max_size": 10}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.get_json()["name"] == "Renamed"
    assert r.headers["ETag"] == '"3"'
    body = problem(api.patch(url, json={"name": "Again"}, headers={"If-Match": '"1"'}), 412)
    assert body["current_version"] == 3
    problem(api.patch(url, json={"name": "x"}, headers={"If-Match": "yesterday"}), 400)
    problem(api.patch(url, json={"min_size": 20, "max_size": 10}), 422)
    problem(api.patch(f"/groups/{MISSING}", json={"name": "x"}), 404)
    api.post(f"{url}/cancel", json={"reason": "no referrals"})
    problem(api.patch(url, json={"name": "Late"}), 409)


def test_group_lifecycle_and_wrong_state(api: Api) -> None:
    group = api.group(opened=False, min_size=1, length_override_reason="pilot")
    url = f"/groups/{group['id']}"
    problem(api.post(f"{url}/enrollments", json={"patient_id": "p-0", "patient_name": "P"}), 409)
    assert api.post(f"{url}/open").get_json()["status"] == "open"
    problem(api.post(f"{url}/open"), 409)
    problem(api.post(f"{url}/start"), 409)  # nobody enrolled yet
    api.enroll(group["id"], "p-1")
    assert api.post(f"{url}/start", json={}).get_json()["status"] == "running"
    assert api.post(f"{url}/complete").get_json()["status"] == "completed"
    problem(api.post(f"{url}/cancel", json={"reason": "too late"}), 409)
    problem(api.post(f"{url}/cancel", json={}), 422)
    problem(api.post(f"/groups/{MISSING}/open"), 404)


def test_group_history_lists_events_with_actor(api: Api) -> None:
    group = api.group(opened=False)
    api.post(f"/groups/{group['id']}/open")
    items = api.get(f"/groups/{group['id']}/history").get_json()["items"]
    assert [e["type"] for e in items] == ["TherapyGroup.Created", "TherapyGroup.Opened"]
    assert all("test coordinator" in e["actor"] for e in items)
    assert items[1]["data"] == {}
    problem(api.get(f"/groups/{MISSING}/history"), 404)
