"""The reads a coordinator's week and group list use: every group's sessions in a range, and
groups filtered by modality and facilitator."""

from __future__ import annotations

from tests.service.conftest import Api


def test_all_sessions_in_a_range_across_groups(api: Api) -> None:
    one = api.group(name="Tuesday IPT")
    two = api.group(name="Thursday MIT", modality="mit", facilitator_ids=["t-zed"], room_id="r-2")
    api.plan(one["id"], first_date="2027-03-02", count=12)
    api.plan(two["id"], first_date="2027-03-04", start_time="10:00", count=12)
    r = api.get("/sessions?start=2027-03-08T00:00:00-05:00&end=2027-03-15T00:00:00-04:00")
    assert r.status_code == 200, r.get_json()
    items = r.get_json()["items"]
    assert [(i["group_id"], i["number"]) for i in items] == [(one["id"], 2), (two["id"], 2)]
    assert api.get("/sessions?start=2027-03-08T00:00:00-05:00", role="billing").status_code == 200
    assert api.get("/sessions", role="therapist").status_code == 403
    bad = api.get("/sessions?start=monday")
    assert bad.status_code == 422 and "start" in bad.get_json()["errors"]
    paged = api.get("/sessions?limit=5").get_json()
    assert len(paged["items"]) == 5 and paged["next_cursor"]
    rest = api.get(f"/sessions?limit=50&cursor={paged['next_cursor']}").get_json()["items"]
    assert len(rest) == 19


def test_groups_filtered_by_modality_and_therapist(api: Api) -> None:
    ipt = api.group(name="Tuesday IPT")
    mit = api.group(name="Thursday MIT", modality="mit", facilitator_ids=["t-zed", "t-ana"])
    dit = api.group(name="Planned DIT", modality="dit", facilitator_ids=["t-zed"], opened=False)

    def names(query: str, role: str = "coordinator") -> list[str]:
        r = api.get(f"/groups?{query}", role=role)
        assert r.status_code == 200, r.get_json()
        return [g["name"] for g in r.get_json()["items"]]

    assert names("modality=mit") == [mit["name"]]
    assert names("therapist_id=t-zed") == [mit["name"], dit["name"]]
    assert names("therapist_id=t-ana") == [ipt["name"], mit["name"]]
    assert names("therapist_id=t-zed&status=open") == [mit["name"]]
    assert names("therapist_id=t-zed", role="therapist") == [mit["name"]]  # t-ana's key
    assert names("therapist_id=nobody") == []
    r = api.get("/groups?modality=cbt")
    assert r.status_code == 422 and "modality" in r.get_json()["errors"]
