"""Issue 9: each input that once answered 2xx and wedged the views, or answered 500, is now a
4xx naming what is wrong — and every view-backed route keeps answering afterwards, on SQLite
and on PostgreSQL. Issue 10 item 7: every time field takes the group's local wall-clock time.
"""

from __future__ import annotations

import base64
from typing import Any
from uuid import UUID

import pytest

from tests.service.conftest import Api, group_body, problem
from tests.service.test_invitations import CONSENT


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.fixture
def clinic(api: Api) -> dict[str, Any]:
    """A group with a plan, two patients (one with a feed token), and a sent invitation."""
    group = api.group()
    gid = group["id"]
    sessions = api.plan(gid)
    for pid in ("p-1", "p-2"):
        api.enroll(gid, pid)
    feed = api.post("/patients/p-1/feed-tokens").get_json()["token"]
    r = api.post(
        f"/sessions/{sessions[1]['id']}/invitations",
        json={"patient_id": "p-1", "invitee_name": "Sam", "relationship": "spouse"},
    )
    iid = r.get_json()["id"]
    assert api.post(f"/invitations/{iid}/approve", role="therapist").status_code == 200
    assert api.post(f"/invitations/{iid}/consent", json=CONSENT).status_code == 200
    invite = api.post(f"/invitations/{iid}/send").get_json()["url"].rsplit("/", 1)[1]
    return {"gid": gid, "sessions": sessions, "feed": feed, "invite": invite}


def assert_everything_answers(api: Api, clinic: dict[str, Any]) -> None:
    """Every view-backed route answers 200, and the views are not behind."""
    gid = clinic["gid"]
    paths = [
        "/groups",
        f"/groups/{gid}/enrollments",
        f"/groups/{gid}/sessions",
        f"/groups/{gid}/history",
        f"/reports/attendance?group_id={gid}",
        "/reports/costs",
        "/reports/costs?format=csv",
        "/patients/p-1/statement",
        "/patients/p-1/attendance",
        "/therapists/t-ana/sessions",
        "/rooms/room-1/sessions",
        "/sessions",
        f"/groups/{gid}/calendar.ics",
    ]
    for path in paths:
        r = api.get(path)
        assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])
    for path in (
        f"/feeds/{clinic['feed']}.ics",
        f"/i/{clinic['invite']}",
        f"/i/{clinic['invite']}.ics",
    ):
        r = api.get(path, role=None)
        assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])
    lag = api.get("/healthz/projections", role=None).get_json()
    assert lag["lag_events"] == 0, lag


def _field(response: Any, status: int = 422) -> dict[str, list[str]]:
    body = problem(response, status)
    errors: dict[str, list[str]] = body["errors"]
    return errors


# --- dates and times -------------------------------------------------------------------------


def test_enrolled_since_outside_the_bounds_is_422(api: Api, clinic: dict) -> None:
    for since in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00", "1999-12-31T18:00",
                  "2027-01-05T10:00"):  # fmt: skip
        body = {"patient_id": "p-9", "patient_name": "Nine", "enrolled_since": since}
        r = api.post(f"/groups/{clinic['gid']}/enrollments", json=body)
        assert "enrolled_since" in _field(r), since
    assert_everything_answers(api, clinic)


def test_fees_effective_from_outside_the_bounds_is_422(api: Api, clinic: dict) -> None:
    for effective in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00",
                      "9999-12-31T23:00"):  # fmt: skip
        body = {"fees": group_body()["fees"], "fees_effective_from": effective}
        r = api.patch(f"/groups/{clinic['gid']}", json=body)
        assert "fees_effective_from" in _field(r), effective
    assert_everything_answers(api, clinic)


def test_fees_effective_from_may_be_ahead_in_local_time(api: Api, clinic: dict) -> None:
    fees = {**group_body()["fees"], "session_fee": "95.00"}
    r = api.patch(
        f"/groups/{clinic['gid']}", json={"fees": fees, "fees_effective_from": "2027-06-01T00:00"}
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["fee_history"][-1]["effective_from"] == "2027-06-01T00:00:00-04:00"
    assert_everything_answers(api, clinic)


def test_a_reschedule_outside_the_bounds_is_422(api: Api, clinic: dict) -> None:
    sid = clinic["sessions"][0]["id"]
    for starts_at in ("9999-12-31T23:00", "0001-01-01T00:00", "1999-12-31T10:00",
                      "2100-06-01T10:00", "0001-01-01T00:00:00+05:00"):  # fmt: skip
        r = api.post(f"/sessions/{sid}/reschedule", json={"starts_at": starts_at, "reason": "x"})
        assert "starts_at" in _field(r), starts_at
    assert_everything_answers(api, clinic)


def test_a_plan_outside_the_bounds_is_422(api: Api, clinic: dict) -> None:
    other = api.group(name="Another", room_id="room-7")["id"]
    for plan in (
        {"first_date": "9999-12-31", "start_time": "23:00", "count": 1},
        {"first_date": "0001-01-01", "start_time": "00:00", "count": 1},
        {"first_date": "2099-12-01", "start_time": "18:00", "count": 12},
    ):
        body = {"duration_minutes": 90, "cadence": "weekly", **plan}
        assert "first_date" in _field(api.post(f"/groups/{other}/sessions", json=body)), plan
    assert api.get(f"/groups/{other}/sessions").get_json()["items"] == []
    assert_everything_answers(api, clinic)


def test_local_times_are_accepted_in_every_time_field(api: Api, clinic: dict) -> None:
    """Issue 10 item 7: no offset means the group's wall-clock time (New York)."""
    gid, sid = clinic["gid"], clinic["sessions"][0]["id"]
    r = api.post(
        f"/groups/{gid}/enrollments",
        json={"patient_id": "p-3", "patient_name": "Three", "enrolled_since": "2026-11-26T10:30"},
    )
    assert r.status_code == 201 and r.get_json()["enrolled_at"] == "2026-11-26T10:30:00-05:00"
    move = {"starts_at": "2027-03-02T17:00", "reason": "x"}
    r = api.post(f"/sessions/{sid}/reschedule", json=move)
    assert r.status_code == 200 and r.get_json()["starts_at"] == "2027-03-02T17:00:00-05:00"
    # A time the clocks skip is refused, naming the field.
    skipped = {"starts_at": "2027-03-14T02:30", "reason": "x"}
    r = api.post(f"/sessions/{sid}/reschedule", json=skipped)
    assert "does not exist" in _field(r)["starts_at"][0]
    assert_everything_answers(api, clinic)


# --- text ------------------------------------------------------------------------------------


def _with_billing_code(code: str) -> dict[str, Any]:
    return {**group_body()["fees"], "billing_codes": {"regular": code}}


def test_control_characters_in_a_video_url_are_422(api: Api, clinic: dict) -> None:
    hybrid = api.group(format="hybrid", video_url="https://meet.example/ok", room_id="room-6")
    for char in ("\x00", "\x01", "\x08", "\x1b", "\x7f", "\x9b"):
        url = f"https://meet.example/room{char}1"
        r = api.post("/groups", json=group_body(format="hybrid", video_url=url))
        assert "video_url" in _field(r), repr(char)
        r = api.patch(f"/groups/{hybrid['id']}", json={"video_url": url})
        assert "video_url" in _field(r), repr(char)
    assert_everything_answers(api, clinic)


def test_control_characters_and_unknown_codes_in_a_new_group_are_422(
    api: Api, clinic: dict
) -> None:
    for field, body in [
        ("fees.billing_codes.regular", group_body(fees=_with_billing_code("90\x0053"))),
        ("fees.billing_codes.regular", group_body(fees=_with_billing_code("90\x1b53"))),
        ("name", group_body(name="Tuesday\x00IPT")),
        ("room_id", group_body(room_id="room\x00")),
        ("facilitator_ids.0", group_body(facilitator_ids=["t-\x00ana"])),
        ("currency", group_body(currency="XYZ")),
        ("currency", group_body(currency="US\x00")),
        ("length_override_reason", group_body(length_override_reason="long\x00er")),
    ]:
        errors = _field(api.post("/groups", json=body))
        assert any(name.startswith(field) for name in errors), (field, errors)
    assert_everything_answers(api, clinic)


def test_text_fields_of_every_command_refuse_control_characters(api: Api, clinic: dict) -> None:
    gid, sid = clinic["gid"], clinic["sessions"][2]["id"]
    enrollment = api.get(f"/groups/{gid}/enrollments").get_json()["items"][1]["id"]
    guest = {"patient_id": "p-1", "invitee_name": "Sam", "relationship": "spouse"}
    refused = [
        api.post(f"/groups/{gid}/enrollments", json={"patient_id": "p-5", "patient_name": "A\x00"}),
        api.patch(f"/groups/{gid}", json={"name": "x\x1by"}),
        api.post(f"/sessions/{sid}/cancel", json={"reason": "ill\x00"}),
        api.post(f"/sessions/{sid}/cancel", json={"reason": "ill\tness"}),
        api.post(f"/enrollments/{enrollment}/withdraw", json={"reason": "moved\x07"}),
        api.post(f"/sessions/{sid}/invitations", json={**guest, "invitee_name": "Sam\x00"}),
        api.post(f"/sessions/{sid}/invitations", json={**guest, "relationship": "spo\x85use"}),
        api.post("/api-keys", json={"role": "billing", "name": "Front\x00desk"}, role="admin"),
    ]
    for r in refused:
        problem(r, 422)
    # A reason may span lines.
    r = api.post(f"/sessions/{sid}/cancel", json={"reason": "therapist ill;\nmake-up to follow"})
    assert r.status_code == 200, r.get_json()
    assert_everything_answers(api, clinic)


# --- time zones --------------------------------------------------------------------------------


def test_only_canonical_time_zones_are_accepted(api: Api) -> None:
    """Issue 11 item 7."""
    for zone in ("localtime", "Factory", "posix/America/New_York", "right/America/New_York",
                 "EST5EDT"):  # fmt: skip
        assert "timezone" in _field(api.post("/groups", json=group_body(timezone=zone))), zone
    r = api.post("/groups", json=group_body(timezone="Europe/Berlin", currency="EUR"))
    assert r.status_code == 201 and r.get_json()["timezone"] == "Europe/Berlin"


# --- query strings -----------------------------------------------------------------------------

CURSORS = ("o:" + "9" * 19, "o:" + "9" * 100, "9" * 19, "9" * 100, "²", "o:²", "0", "-1", "x|y",
           "\x00", "2027-01-01T00:00:00+00:00|not-a-uuid",
           f"0001-01-01T00:00:00+00:00|{UUID(int=0)}")  # fmt: skip


def test_a_cursor_this_api_did_not_give_out_is_422(api: Api, clinic: dict) -> None:
    gid = clinic["gid"]
    for raw in CURSORS:
        cursor = _cursor(raw)
        for path in (
            "/groups",
            f"/groups/{gid}/enrollments",
            f"/groups/{gid}/history",
            f"/groups/{gid}/sessions",
            "/therapists/t-ana/sessions",
            "/rooms/room-1/sessions",
            "/sessions",
        ):
            assert "cursor" in _field(api.get(f"{path}?cursor={cursor}")), (path, raw)
        assert "cursor" in _field(api.get(f"/api-keys?cursor={cursor}", role="admin")), raw
    for bad in ("%C2%B2", "!!", "a" * 201):
        assert "cursor" in _field(api.get(f"/groups?cursor={bad}"))
    assert_everything_answers(api, clinic)


def test_the_cursors_this_api_gives_out_are_accepted(api: Api, clinic: dict) -> None:
    gid = clinic["gid"]
    api.group(name="One more", room_id="room-8")
    for path in (
        "/groups?limit=1",
        f"/groups/{gid}/enrollments?limit=1",
        f"/groups/{gid}/history?limit=1",
        f"/groups/{gid}/sessions?limit=1",
        "/therapists/t-ana/sessions?limit=1",
        "/sessions?limit=1",
    ):
        first = api.get(path).get_json()
        assert first["next_cursor"], path
        r = api.get(f"{path}&cursor={first['next_cursor']}")
        assert r.status_code == 200 and r.get_json()["items"] != first["items"], path
    keys = api.get("/api-keys?limit=1", role="admin").get_json()
    r = api.get(f"/api-keys?limit=1&cursor={keys['next_cursor']}", role="admin")
    assert r.status_code == 200 and r.get_json()["items"] != keys["items"]


def test_a_query_range_outside_the_bounds_is_422(api: Api, clinic: dict) -> None:
    for query in ("start=0001-01-01T00:00:00%2B05:00", "end=1999-12-31T18:00:00-05:00",
                  "start=0001-01-01T00:30:00%2B01:00", "start=2100-01-01T00:00:00Z"):  # fmt: skip
        for path in ("/therapists/t-ana/sessions", "/rooms/room-1/sessions", "/sessions"):
            errors = _field(api.get(f"{path}?{query}"))
            assert set(errors) & {"start", "end"}, (path, query, errors)
    # An end past the bounds is read as their end: every session up to it.
    for path in ("/therapists/t-ana/sessions", "/rooms/room-1/sessions", "/sessions"):
        r = api.get(f"{path}?end=9999-12-31T23:59:59-05:00&limit=200")
        assert r.status_code == 200 and len(r.get_json()["items"]) == 12, path
    assert_everything_answers(api, clinic)
