"""Recording attendance answers with ``session_answer``, a hand-written dump of the session:
it must equal the ``Session`` schema's dump field for field (and in order), for sessions in
every state, and the OpenAPI document must still describe it as a ``Session``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from service.schemas.sessions import Session, session_answer
from tests.service.conftest import Api


def assert_answer_is_the_schema_dump(api: Api, session_id: str) -> dict[str, Any]:
    session = api.app.extensions["circles"].circles.get_session(session_id)
    answer, dumped = session_answer(session), Session().dump(session)
    assert answer == dumped
    assert list(answer) == list(dumped)
    for rows in ("attendance", "cancellations", "guests"):
        assert [list(row) for row in answer[rows]] == [list(row) for row in dumped[rows]]
    return answer


def guest(api: Api, session_id: str) -> str:
    """An invitation for p-1's partner, accepted: a guest the session holds a place for."""
    propose = {"patient_id": "p-1", "invitee_name": "Sam", "relationship": "spouse"}
    iid = api.post(f"/sessions/{session_id}/invitations", json=propose).get_json()["id"]
    assert api.post(f"/invitations/{iid}/approve", role="therapist").status_code == 200
    consent = {"signed_by": "Pat", "signed_at": "2027-01-03T10:00:00+00:00", "document_ref": "d"}
    assert api.post(f"/invitations/{iid}/consent", json=consent).status_code == 200
    link = api.post(f"/invitations/{iid}/send").get_json()["url"]
    assert api.post(f"{link[link.index('/i/') :]}/accept", role=None).status_code == 200
    return str(iid)


def test_the_attendance_answer_is_the_session_schema_dump_in_every_state(api: Api) -> None:
    gid = api.group(guest_limit=1, min_size=1)["id"]
    sessions = [s["id"] for s in api.plan(gid, count=4)]
    for patient in ("p-1", "p-2", "p-3"):
        api.enroll(gid, patient)
    first, second, third, fourth = sessions
    assert_answer_is_the_schema_dump(api, first)  # planned, nothing recorded
    iid = guest(api, first)
    api.clock.set(datetime(2027, 3, 1, 20, 0, tzinfo=UTC))
    told = {"patient_id": "p-2", "told_at": "2027-03-01T09:30"}
    assert api.post(f"/sessions/{first}/cancellations", json=told).status_code == 201
    assert api.post(f"/sessions/{fourth}/cancel", json={"reason": "snow"}).status_code == 200
    make_up = {"make_up_for": fourth, "starts_at": "2027-04-06T18:00"}
    r = api.post(f"/groups/{gid}/sessions", json=make_up)
    assert r.status_code == 201, r.get_json()
    make_up_id = r.get_json()["sessions"][0]["id"]

    api.clock.set(datetime(2027, 3, 3, 12, 0, tzinfo=UTC))
    records = [
        {"patient_id": "p-1", "status": "present"},
        {"patient_id": "p-3", "status": "late"},
        {"invitation_id": iid, "status": "present"},
    ]
    r = api.put(f"/sessions/{first}/attendance", json={"records": records})
    assert r.status_code == 200, r.get_json()
    answer = assert_answer_is_the_schema_dump(api, first)
    assert r.get_json() == answer == api.get(f"/sessions/{first}").get_json()
    assert r.headers["ETag"] == f'"{answer["version"]}"'
    assert answer["cancellations"] and answer["guests"] and answer["invitation_ids"]
    assert {row["patient_id"] for row in answer["attendance"]} == {"p-1", "p-2", "p-3"}
    for other in (second, third, fourth, make_up_id):
        assert_answer_is_the_schema_dump(api, other)
    assert assert_answer_is_the_schema_dump(api, make_up_id)["make_up_for"] == fourth
    assert assert_answer_is_the_schema_dump(api, fourth)["status"] == "cancelled"


def test_an_online_session_answers_as_the_schema_dumps_it(api: Api) -> None:
    gid = api.group(format="online", room_id=None, video_url="https://meet.example/abc")["id"]
    sid = api.plan(gid, count=1)[0]["id"]
    answer = assert_answer_is_the_schema_dump(api, sid)
    assert answer["room_id"] is None and answer["video_url"] == "https://meet.example/abc"


def test_the_document_describes_the_attendance_answer_as_a_session(api: Api) -> None:
    document = api.get("/openapi.json", role=None).get_json()
    put = document["paths"]["/sessions/{session_id}/attendance"]["put"]
    ref = put["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    gid = api.group()["id"]
    sid = api.plan(gid, count=1)[0]["id"]
    answer = assert_answer_is_the_schema_dump(api, sid)
    assert set(answer) == set(component["properties"]) == set(component["required"])
