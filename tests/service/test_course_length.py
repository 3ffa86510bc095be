"""Course length and cadence over HTTP (issue 10 item 12)."""

from __future__ import annotations

from typing import Any

from tests.rebuilt import assert_views_equal_a_rebuild
from tests.service.conftest import Api, plan_body, problem

REASON = "clinical lead approved 18 sessions for complex grief"


def views_equal_a_rebuild(api: Api) -> None:
    services = api.app.extensions["circles"]
    assert_views_equal_a_rebuild(services.circles, services.reads.projector, services.settings)


def local_dates(sessions: list[dict[str, Any]]) -> list[str]:
    return [s["starts_at"][:10] for s in sessions]


def test_a_plan_past_the_modality_upper_bound_is_refused_when_planned(api: Api) -> None:
    group = api.group()
    url = f"/groups/{group['id']}/sessions"
    body = problem(api.post(url, json=plan_body(count=17)), 409)
    assert "12–16" in body["detail"] and "would make 17" in body["detail"]
    api.plan(group["id"], count=10)  # the lower bound waits for the start
    body = problem(api.post(url, json=plan_body(first_date="2027-06-01", count=7)), 409)
    assert "would make 17" in body["detail"]
    assert api.get(f"/groups/{group['id']}").get_json()["session_count"] == 10
    views_equal_a_rebuild(api)


def test_a_length_override_is_recorded_later_through_patch_as_its_own_event(api: Api) -> None:
    group = api.group(min_size=1)
    gid = group["id"]
    api.plan(gid, count=16)
    api.enroll(gid, "p-1")
    more = plan_body(first_date="2027-07-06", count=2)
    problem(api.post(f"/groups/{gid}/sessions", json=more), 409)
    body = problem(api.patch(f"/groups/{gid}", json={"length_override_reason": "  "}), 422)
    assert "length_override_reason" in body["errors"]
    problem(
        api.patch(f"/groups/{gid}", json={"length_override_reason": REASON}, role="billing"), 403
    )
    r = api.patch(f"/groups/{gid}", json={"length_override_reason": REASON})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["length_override_reason"] == REASON
    last = api.get(f"/groups/{gid}/history?limit=200").get_json()["items"][-1]
    assert last["type"] == "TherapyGroup.LengthOverrideRecorded"
    assert last["data"]["reason"] == REASON and last["actor"]
    r = api.post(f"/groups/{gid}/sessions", json=more)
    assert r.status_code == 201, r.get_json()
    assert api.post(f"/groups/{gid}/start").get_json()["status"] == "running"
    views_equal_a_rebuild(api)


def test_a_maintenance_plan_defaults_to_monthly(api: Api) -> None:
    group = api.group(modality="maintenance")
    body = plan_body(first_date="2027-01-12", count=3)
    del body["cadence"]
    r = api.post(f"/groups/{group['id']}/sessions", json=body)
    assert r.status_code == 201, r.get_json()
    assert local_dates(r.get_json()["sessions"]) == ["2027-01-12", "2027-02-12", "2027-03-12"]
    views_equal_a_rebuild(api)


def test_monthly_weekday_keeps_the_2nd_tuesday_and_reads_a_5th_as_the_last(api: Api) -> None:
    group = api.group(modality="maintenance")
    sessions = api.plan(
        group["id"],
        first_date="2027-02-09",
        cadence="monthly_weekday",
        count=4,
        skip_dates=["2027-04-13"],
    )
    assert local_dates(sessions) == ["2027-02-09", "2027-03-09", "2027-05-11", "2027-06-08"]
    assert [s["starts_at"][10:] for s in sessions] == [
        "T18:00:00-05:00",
        "T18:00:00-05:00",  # the US clocks change on 2027-03-14
        "T18:00:00-04:00",
        "T18:00:00-04:00",
    ]
    last = api.plan(group["id"], first_date="2027-08-31", cadence="monthly_weekday", count=3)
    assert local_dates(last) == ["2027-08-31", "2027-09-28", "2027-10-26"]
    url = f"/groups/{group['id']}/sessions"
    problem(api.post(url, json=plan_body(cadence="monthly_weekday", interval=2)), 422)
    views_equal_a_rebuild(api)


def test_the_openapi_documents_the_override_and_the_cadences(api: Api) -> None:
    spec = api.get("/openapi.json", role=None).get_json()
    text = str(spec)
    assert "monthly_weekday" in text and "LengthOverrideRecorded" in text
    patch = spec["paths"]["/groups/{group_id}"]["patch"]
    assert "length_override_reason" in str(patch)
