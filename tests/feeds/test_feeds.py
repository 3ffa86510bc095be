"""Patient, therapist, invitee and group feeds over HTTP, checked by icalendar and vobject."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.feeds.conftest import Parsed, parse
from tests.service.conftest import Api, problem

PATIENT = "p-1"
PATIENT_NAME = "Robin Feedwell"
OTHERS = {"p-2": "Zelda Quist", "p-3": "Omar Brandt"}
VIDEO = "https://video.example.org/room/berlin-42"
# Words that would reveal modality, problem area or diagnosis (SPEC §4, minimum necessary).
CLINICAL_WORDS = [
    "ipt", "interpersonal", "metacognitive", "psychodynamic", "dynamic", "maintenance", "mit",
    "dit", "grief", "role_dispute", "role dispute", "transition", "deficits", "depress",
    "diagnos", "intake", "modality",
]  # fmt: skip
CONSENT = {"signed_by": "Pat", "signed_at": "2027-01-03T10:00:00+00:00", "document_ref": "d-1"}


def clinic(api: Api) -> dict[str, Any]:
    """A New York IPT group (12 weekly sessions across the US clock change) and a Berlin
    online maintenance group (4 monthly sessions across the EU change); p-1 is in both."""
    ny = api.group(focus_area="grief")
    ny_sessions = api.plan(ny["id"])  # 2027-03-02 .. 2027-05-18, 18:00 New York
    berlin = api.group(
        name="Berlin maintenance circle",
        modality="maintenance",
        format="online",
        facilitator_ids=["t-zed"],
        room_id=None,
        video_url=VIDEO,
        timezone="Europe/Berlin",
        currency="EUR",
    )
    berlin_sessions = api.plan(
        berlin["id"], first_date="2027-02-10", cadence="monthly", count=4, start_time="18:30"
    )
    enrollments = {}
    for group in (ny, berlin):
        enrollments[group["id"]] = api.enroll(group["id"], PATIENT, patient_name=PATIENT_NAME)
    for pid, name in OTHERS.items():
        api.enroll(ny["id"], pid, patient_name=name)
    eid = enrollments[ny["id"]]["id"]
    r = api.post(
        f"/enrollments/{eid}/intake", json={"primary_area": "grief", "inventory_done": True}
    )
    assert r.status_code == 200, r.get_json()
    return {
        "ny": ny,
        "berlin": berlin,
        "ny_sessions": ny_sessions,
        "berlin_sessions": berlin_sessions,
        "enrollment": eid,
    }


def issue(api: Api, kind: str, subject: str) -> dict[str, Any]:
    r = api.post(f"/{kind}/{subject}/feed-tokens")
    assert r.status_code == 201, r.get_json()
    data: dict[str, Any] = r.get_json()
    assert r.headers["Cache-Control"] == "no-store"
    return data


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def fetch(api: Api, url: str, **headers: str) -> Any:
    return api.get(path_of(url), role=None, headers=headers)


def feed(api: Api, url: str) -> Parsed:
    r = fetch(api, url)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "private" in r.headers["Cache-Control"]
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert re.fullmatch(r'"[0-9a-f]{40}"', r.headers["ETag"])
    return parse(r.data)


def assert_private(body: bytes, *also_absent: str) -> None:
    text = body.decode().lower()
    unfolded = text.replace("\r\n ", "")
    for word in [*CLINICAL_WORDS, *also_absent]:
        assert word.lower() not in unfolded, word
    assert "attendee" not in unfolded


def starts(parsed: Parsed) -> list[datetime]:
    return sorted(e["DTSTART"].dt for e in parsed.events)


# --- tests --------------------------------------------------------------------------------------


def test_patient_feed_has_every_session_at_local_time_across_two_clock_changes(api: Api) -> None:
    world = clinic(api)
    issued = issue(api, "patients", PATIENT)
    assert issued["url"].endswith(".ics") and issued["token"] in issued["url"]
    assert issued["webcal_url"] == "webcal://" + issued["url"].split("://", 1)[1]
    assert issued["google_url"].startswith("https://calendar.google.com/calendar/r?cid=webcal")
    assert len(issued["token"]) >= 43  # 256 bits
    parsed = feed(api, issued["url"])
    assert len(parsed.events) == 16 and len(parsed.vevents) == 16
    # Local start stays at 18:00 New York / 18:30 Berlin while the UTC offset moves.
    ny = [s for s in starts(parsed) if str(s.tzinfo) == "America/New_York"]
    berlin = [s for s in starts(parsed) if str(s.tzinfo) == "Europe/Berlin"]
    assert len(ny) == 12 and len(berlin) == 4
    assert {(s.hour, s.minute) for s in ny} == {(18, 0)}
    assert {(s.hour, s.minute) for s in berlin} == {(18, 30)}
    assert {s.utcoffset() for s in ny} == {timedelta(hours=-5), timedelta(hours=-4)}
    assert {s.utcoffset() for s in berlin} == {timedelta(hours=1), timedelta(hours=2)}

    # The independent parser agrees: same wall-clock time and UTC offset for every UID.
    def local(dt: datetime) -> tuple[str, timedelta | None]:
        return dt.strftime("%Y-%m-%d %H:%M"), dt.utcoffset()

    mine = {str(e["UID"]): local(e["DTSTART"].dt) for e in parsed.events}
    theirs = {str(v.uid.value): local(v.dtstart.value) for v in parsed.vevents}
    assert mine == theirs
    assert sorted(t for t in theirs.values() if t[0] < "2027-03-15")[:2] == [
        ("2027-02-10 18:30", timedelta(hours=1)),
        ("2027-03-02 18:00", timedelta(hours=-5)),
    ]
    assert ("2027-03-16 18:00", timedelta(hours=-4)) in theirs.values()
    assert ("2027-04-10 18:30", timedelta(hours=2)) in theirs.values()
    # Stable UIDs are the session ids; VTIMEZONEs narrowed to the feed's year.
    ids = {s["id"] for s in world["ny_sessions"] + world["berlin_sessions"]}
    assert {u.split("@")[0] for u in parsed.by_uid()} == ids
    zones = {str(z["TZID"]): z for z in parsed.ical.walk("VTIMEZONE")}
    assert set(zones) == {"America/New_York", "Europe/Berlin"}
    assert all("COMMENT" not in z for z in zones.values())  # libical refuses one there
    assert {str(z.walk("STANDARD")[0]["DTSTART"].dt) for z in zones.values()} == {
        "2027-01-01 00:00:00"
    }
    # Location: the room, or the video link for the online group.
    assert {str(e["LOCATION"]) for e in parsed.events} == {"room-1", VIDEO}
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in parsed.body
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in parsed.body
    # Minimum necessary: neutral, no other patient, group name, therapist or clinical word.
    assert {str(e["SUMMARY"]) for e in parsed.events} == {"Group session"}
    assert_private(
        parsed.body, *OTHERS, *OTHERS.values(), PATIENT, PATIENT_NAME, "t-ana", "t-zed",
        "Tuesday evening", "Berlin maintenance circle",
    )  # fmt: skip


def test_body_is_byte_identical_until_something_changes_and_etag_gives_304(api: Api) -> None:
    clinic(api)
    url = issue(api, "patients", PATIENT)["url"]
    first, second = fetch(api, url), fetch(api, url)
    assert first.data == second.data and first.headers["ETag"] == second.headers["ETag"]
    api.clock.advance(hours=3)  # time alone (same day) changes nothing
    third = fetch(api, url)
    assert third.data == first.data
    etag = first.headers["ETag"]
    for header in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        r = fetch(api, url, **{"If-None-Match": header})
        assert r.status_code == 304 and r.data == b"" and r.headers["ETag"] == etag
        assert "private" in r.headers["Cache-Control"]
    assert fetch(api, url, **{"If-None-Match": '"other"'}).status_code == 200
    # Another group's change moves nothing this patient sees, yet the body stays identical.
    other = api.group(name="Other", facilitator_ids=["t-x"], room_id="room-9")
    api.plan(other["id"])
    assert fetch(api, url).data == first.data


def test_cancelled_and_rescheduled_sessions_keep_their_uid_with_a_higher_sequence(
    api: Api,
) -> None:
    world = clinic(api)
    url = issue(api, "patients", PATIENT)["url"]
    before = feed(api, url).by_uid()
    etag = fetch(api, url).headers["ETag"]
    cancelled, moved = world["ny_sessions"][2]["id"], world["ny_sessions"][4]["id"]
    # Event times are the store's real clock, shown to the second: let one tick by.
    time.sleep(1.05)
    r = api.post(f"/sessions/{cancelled}/cancel", json={"reason": "therapist ill"})
    assert r.status_code == 200, r.get_json()
    r = api.post(
        f"/sessions/{moved}/reschedule", json={"starts_at": "2027-04-01T17:00", "reason": "x"}
    )
    assert r.status_code == 200, r.get_json()
    assert fetch(api, url, **{"If-None-Match": etag}).status_code == 200  # changed
    parsed = feed(api, url)
    after = parsed.by_uid()
    assert len(after) == 16 and set(after) == set(before)
    c_uid, m_uid = f"{cancelled}@circles", f"{moved}@circles"
    assert str(after[c_uid]["STATUS"]) == "CANCELLED"
    assert str(after[c_uid]["SUMMARY"]).startswith("Cancelled:")
    assert after[c_uid]["SEQUENCE"] > before[c_uid]["SEQUENCE"]
    assert after[c_uid]["LAST-MODIFIED"].dt > before[c_uid]["LAST-MODIFIED"].dt
    assert after[c_uid]["DTSTAMP"].dt == after[c_uid]["LAST-MODIFIED"].dt
    assert after[m_uid]["SEQUENCE"] > before[m_uid]["SEQUENCE"]
    assert str(after[m_uid]["STATUS"]) == "CONFIRMED"
    moved_start = after[m_uid]["DTSTART"].dt
    assert (moved_start.month, moved_start.day, moved_start.hour) == (4, 1, 17)
    assert after[m_uid]["LAST-MODIFIED"].dt > before[m_uid]["LAST-MODIFIED"].dt
    untouched = f"{world['ny_sessions'][0]['id']}@circles"
    assert after[untouched]["SEQUENCE"] == before[untouched]["SEQUENCE"]
    # vobject reads the same statuses and sequences.
    v = {str(e.uid.value): e for e in parsed.vevents}
    assert v[c_uid].status.value == "CANCELLED" and int(v[c_uid].sequence.value) >= 1
    assert int(v[m_uid].sequence.value) == int(after[m_uid]["SEQUENCE"])


def test_withdrawn_patient_keeps_past_sessions_and_loses_later_ones(api: Api) -> None:
    world = clinic(api)
    url = issue(api, "patients", PATIENT)["url"]
    api.clock.set(datetime(2027, 3, 20, 12, tzinfo=UTC))  # after NY sessions 1-3, Berlin 1-2
    r = api.post(f"/enrollments/{world['enrollment']}/withdraw", json={"reason": "moved away"})
    assert r.status_code == 200, r.get_json()
    parsed = feed(api, url)
    ny = [s for s in starts(parsed) if str(s.tzinfo) == "America/New_York"]
    berlin = [s for s in starts(parsed) if str(s.tzinfo) == "Europe/Berlin"]
    assert [s.day for s in ny] == [2, 9, 16]
    assert len(berlin) == 4  # still enrolled there
    assert len(parsed.vevents) == 7


def test_therapist_and_group_feeds(api: Api) -> None:
    world = clinic(api)
    ana = feed(api, issue(api, "therapists", "t-ana")["url"])
    assert len(ana.events) == 12 and {str(e["LOCATION"]) for e in ana.events} == {"room-1"}
    assert_private(ana.body, PATIENT_NAME, *OTHERS.values(), "Tuesday evening")
    gid = world["berlin"]["id"]
    for role in ("coordinator", "billing"):
        r = api.get(f"/groups/{gid}/calendar.ics", role=role)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/calendar")
        group = parse(r.data)
        assert len(group.events) == 4 and len(group.vevents) == 4
        assert_private(r.data, PATIENT_NAME, "Berlin maintenance circle")
    etag = r.headers["ETag"]
    again = api.get(f"/groups/{gid}/calendar.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304
    problem(api.get(f"/groups/{gid}/calendar.ics", role="therapist"), 404)  # not t-ana's
    problem(api.get(f"/groups/{gid}/calendar.ics", role=None), 401)
    problem(api.get("/groups/00000000-0000-4000-8000-000000000000/calendar.ics"), 404)


def test_rotation_revocation_and_unknown_tokens_are_the_same_404(api: Api) -> None:
    clinic(api)
    first = issue(api, "patients", PATIENT)
    assert fetch(api, first["url"]).status_code == 200
    second = issue(api, "patients", PATIENT)
    assert second["token"] != first["token"] and second["id"] != first["id"]
    rotated = fetch(api, first["url"])
    unknown = api.get("/feeds/" + "A" * 43 + ".ics", role=None)
    garbage = api.get("/feeds/not-a-token.ics", role=None)
    for r in (rotated, unknown, garbage):
        problem(r, 404)
        assert r.data == unknown.data  # indistinguishable
        assert r.headers["Referrer-Policy"] == "no-referrer"
    assert fetch(api, second["url"]).status_code == 200
    r = api.delete(f"/feed-tokens/{second['id']}")
    assert r.status_code == 200 and r.get_json()["revoked"] is True
    assert "token" not in r.get_json()
    assert fetch(api, second["url"]).data == unknown.data
    problem(api.delete("/feed-tokens/00000000-0000-4000-8000-000000000000"), 404)
    problem(api.post(f"/patients/{PATIENT}/feed-tokens", role="billing"), 403)
    # A therapist key issues its own therapist's feed only; another's is as if unknown.
    problem(api.post("/therapists/t-ana/feed-tokens", role="other_therapist"), 404)
    # An invitation link is not a person's feed, and the other way round.
    assert api.get(path_of(second["url"]).replace("/feeds/", "/i/"), role=None).status_code == 404


def test_idempotent_replay_never_stores_the_token(api: Api) -> None:
    clinic(api)
    headers = {"Idempotency-Key": "issue-p1-once"}
    first = api.post(f"/patients/{PATIENT}/feed-tokens", headers=headers)
    replay = api.post(f"/patients/{PATIENT}/feed-tokens", headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    body = replay.get_json()
    assert body["id"] == first.get_json()["id"]
    assert body["token"] is None and body["url"] is None and body["google_url"] is None
    assert first.get_json()["token"] not in replay.get_data(as_text=True)
    assert fetch(api, first.get_json()["url"]).status_code == 200  # the replay issued nothing


# --- the invitee ----------------------------------------------------------------------------------


def sent_invitation(api: Api, world: dict[str, Any]) -> tuple[str, str]:
    sid = world["ny_sessions"][3]["id"]  # 2027-03-23 18:00 New York
    r = api.post(
        f"/sessions/{sid}/invitations",
        json={"patient_id": PATIENT, "invitee_name": "Sam Partner", "relationship": "spouse"},
    )
    iid = r.get_json()["id"]
    assert api.post(f"/invitations/{iid}/approve", role="therapist").status_code == 200
    assert api.post(f"/invitations/{iid}/consent", json=CONSENT).status_code == 200
    r = api.post(f"/invitations/{iid}/send")
    assert r.status_code == 200, r.get_json()
    url = r.get_json()["url"]
    assert re.search(r"/i/[A-Za-z0-9_-]{43}$", url)
    return iid, url


def test_invitee_page_answer_and_feed(api: Api) -> None:
    world = clinic(api)
    iid, url = sent_invitation(api, world)
    page = fetch(api, url)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    view = page.get_json()
    assert view["status"] == "sent" and view["can_respond"] is True
    assert view["session"]["starts_at"].startswith("2027-03-23T18:00:00-04:00")
    assert view["session"]["location"] == "room-1" and view["session"]["status"] == "scheduled"
    for absent in (PATIENT, PATIENT_NAME, "Tuesday evening", "ipt", "grief", *OTHERS.values()):
        assert absent.lower() not in page.get_data(as_text=True).lower()
    r = api.post(path_of(url) + "/accept", role=None)
    assert r.status_code == 200 and r.get_json()["status"] == "accepted"
    assert r.get_json()["can_respond"] is False
    problem(api.post(path_of(url) + "/decline", role=None), 409)
    events = api.get(f"/invitations/{iid}/history").get_json()["items"]
    assert events[-1]["type"] == "Invitation.Accepted"
    assert url.rsplit("/", 1)[1] not in repr(
        events
    )  # the actor names the invitation, not the token
    parsed = feed(api, url + ".ics")
    assert len(parsed.events) == 1 and len(parsed.vevents) == 1
    event = parsed.events[0]
    assert str(event["UID"]) == f"{world['ny_sessions'][3]['id']}@circles"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert_private(parsed.body, PATIENT, PATIENT_NAME, "Sam Partner", *OTHERS.values())


def test_revoked_invitation_shows_cancelled_until_the_session_is_over(api: Api) -> None:
    world = clinic(api)
    iid, url = sent_invitation(api, world)
    before = feed(api, url + ".ics").events[0]
    r = api.post(f"/invitations/{iid}/revoke", json={"reason": "patient withdrew consent"})
    assert r.status_code == 200, r.get_json()
    parsed = feed(api, url + ".ics")
    after = parsed.events[0]
    assert after["UID"] == before["UID"]
    assert str(after["STATUS"]) == "CANCELLED" and str(after["SUMMARY"]).startswith("Cancelled:")
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert parsed.vevents[0].status.value == "CANCELLED"
    view = fetch(api, url).get_json()
    assert view["status"] == "revoked" and view["can_respond"] is False
    assert view["session"]["status"] == "cancelled"
    problem(api.post(path_of(url) + "/accept", role=None), 409)
    # The session ends 2027-03-23 19:30 New York: then the link stops working.
    api.clock.set(datetime(2027, 3, 23, 23, 29, tzinfo=UTC))
    assert fetch(api, url + ".ics").status_code == 200
    api.clock.set(datetime(2027, 3, 23, 23, 31, tzinfo=UTC))
    problem(fetch(api, url + ".ics"), 404)
    problem(fetch(api, url), 404)


def test_declined_invitation_and_unknown_invitee_links(api: Api) -> None:
    world = clinic(api)
    _, url = sent_invitation(api, world)
    r = api.post(path_of(url) + "/decline", role=None)
    assert r.status_code == 200 and r.get_json()["status"] == "declined"
    assert str(feed(api, url + ".ics").events[0]["STATUS"]) == "CANCELLED"
    for path in ("/i/" + "B" * 43, "/i/" + "B" * 43 + ".ics", "/i/x/accept"):
        method = api.post if path.endswith("accept") else api.get
        problem(method(path, role=None), 404)
    # A patient's feed token does not open invitee routes.
    token = issue(api, "patients", PATIENT)["token"]
    problem(api.get(f"/i/{token}", role=None), 404)
