"""Idempotency-Key: a replay returns the first answer and changes nothing, across restarts."""

from __future__ import annotations

from projections.store import StoreSettings
from tests.conftest import Clock
from tests.service.conftest import Api, make_api, problem


def test_replay_returns_first_response_and_changes_nothing(api: Api) -> None:
    group = api.group(max_size=1, min_size=1)
    url = f"/groups/{group['id']}/enrollments"
    body = {"patient_id": "p-1", "patient_name": "A"}
    first = api.post(url, json=body, headers={"Idempotency-Key": "enroll-p-1"})
    again = api.post(url, json=body, headers={"Idempotency-Key": "enroll-p-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.get(f"/groups/{group['id']}").get_json()["enrolled_count"] == 1
    history = api.get(f"/groups/{group['id']}/history").get_json()["items"]
    assert [e["type"] for e in history].count("TherapyGroup.PatientAdmitted") == 1
    problem(
        api.post(
            url, json={**body, "patient_id": "p-2"}, headers={"Idempotency-Key": "enroll-p-1"}
        ),
        422,
    )
    problem(api.post(url, json=body, headers={"Idempotency-Key": "bad key with spaces"}), 400)


def test_failed_request_can_be_retried_with_the_same_key(api: Api) -> None:
    bad = api.post("/groups", json={"name": "x"}, headers={"Idempotency-Key": "k1"})
    assert bad.status_code == 422
    from tests.service.conftest import group_body

    good = api.post("/groups", json=group_body(), headers={"Idempotency-Key": "k1"})
    assert good.status_code == 201


def test_replay_survives_a_restart(durable_store: StoreSettings, clock: Clock) -> None:
    from tests.service.conftest import group_body

    first_process = make_api(durable_store, clock)
    api = next(first_process)
    key = api.keys["coordinator"]
    created = api.post("/groups", json=group_body(), headers={"Idempotency-Key": "g-1"})
    first_process.close()

    second_process = make_api(durable_store, clock)
    restarted = next(second_process)
    headers = {"Idempotency-Key": "g-1", "Authorization": f"Bearer {key}"}
    replay = restarted.post("/groups", json=group_body(), headers=headers, role=None)
    assert replay.get_json() == created.get_json()
    assert len(restarted.get("/groups").get_json()["items"]) == 1
    second_process.close()
