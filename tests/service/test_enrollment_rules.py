"""SPEC §2 enrollment rules through HTTP (issue 10 items 2, 3, 4 and 9), with the feeds a
patient, therapist or invitee reads, and the views equal to a clean rebuild afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.feeds.conftest import parse
from tests.rebuilt import assert_views_equal_a_rebuild
from tests.service.conftest import Api, group_body, plan_body, problem

PATIENT_9 = {"patient_id": "p-9", "patient_name": "Nine"}
CONSENT = {"signed_by": "Pat", "signed_at": "2027-01-03T10:00:00+00:00", "document_ref": "d-1"}


def rebuilt(api: Api) -> None:
    services = api.app.extensions["circles"]
    assert_views_equal_a_rebuild(services.circles, services.reads.projector, services.settings)


def during(api: Api, session: dict[str, Any], minutes: int = 10) -> None:
    start = datetime.fromisoformat(session["starts_at"]).astimezone(UTC)
    api.clock.set(start + timedelta(minutes=minutes))


def enrollments(api: Api, group_id: str) -> dict[str, dict[str, Any]]:
    r = api.get(f"/groups/{group_id}/enrollments?limit=200")
    assert r.status_code == 200
    return {row["patient_id"]: row for row in r.get_json()["items"]}


def feed_events(api: Api, kind: str, subject: str) -> dict[str, dict[str, str]]:
    """session id -> {STATUS, SUMMARY} in the subject's subscription feed."""
    issued = api.post(f"/{kind}/{subject}/feed-tokens")
    assert issued.status_code == 201, issued.get_json()
    return ics_events(api, issued.get_json()["url"])


def ics_events(api: Api, url: str) -> dict[str, dict[str, str]]:
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    r = api.get(path, role=None)
    assert r.status_code == 200, r.get_data(as_text=True)
    return {
        str(e["UID"]).split("@")[0]: {"STATUS": str(e["STATUS"]), "SUMMARY": str(e["SUMMARY"])}
        for e in parse(r.data).events
    }


def invite(api: Api, session_id: str, patient_id: str) -> tuple[str, str]:
    """An accepted invitation: its id and the invitee's link."""
    r = api.post(
        f"/sessions/{session_id}/invitations",
        json={"patient_id": patient_id, "invitee_name": "Sam", "relationship": "spouse"},
    )
    assert r.status_code == 201, r.get_json()
    iid = r.get_json()["id"]
    assert api.post(f"/invitations/{iid}/approve", role="therapist").status_code == 200
    assert api.post(f"/invitations/{iid}/consent", json=CONSENT).status_code == 200
    sent = api.post(f"/invitations/{iid}/send")
    assert sent.status_code == 200
    link = sent.get_json()["url"]
    token_path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    assert api.post(f"{token_path}/accept", role=None).status_code == 200
    return iid, link


# --- 2 ------------------------------------------------------------------------------------------


def test_raising_max_size_promotes_the_waitlist_first_come_first_served(api: Api) -> None:
    group = api.group(max_size=2, min_size=1)
    gid = group["id"]
    api.plan(gid)
    rows = [api.enroll(gid, p) for p in ("p-0", "p-1", "p-2", "p-3", "p-4")]
    assert [r["status"] for r in rows] == ["enrolled"] * 2 + ["waitlisted"] * 3
    assert {r["waiting_for"] for r in rows[2:]} == {"seat"}

    r = api.patch(f"/groups/{gid}", json={"max_size": 4})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["max_size"], body["enrolled_count"], body["waitlist_count"]) == (4, 4, 1)
    assert body["free_seats"] == 0
    listed = enrollments(api, gid)
    assert [listed[p]["status"] for p in ("p-2", "p-3", "p-4")] == [
        "enrolled", "enrolled", "waitlisted",
    ]  # fmt: skip
    assert (listed["p-4"]["waitlist_position"], listed["p-4"]["waiting_for"]) == (1, "seat")
    # A newcomer queues behind those already waiting.
    assert api.enroll(gid, "p-5")["status"] == "waitlisted"
    assert enrollments(api, gid)["p-5"]["waitlist_position"] == 2
    promoted = api.get(f"/enrollments/{rows[2]['id']}").get_json()
    assert promoted["status"] == "enrolled" and promoted["waiting_for"] is None
    history = api.get(f"/groups/{gid}/history").get_json()["items"]
    assert history[-2]["type"] == "TherapyGroup.WaitlistPromoted"
    assert history[-2]["data"]["patient_ids"] == ["p-2", "p-3"]
    rebuilt(api)


# --- 3 ------------------------------------------------------------------------------------------


def test_withdrawal_revokes_the_patients_invitations_to_later_sessions(api: Api) -> None:
    group = api.group(min_size=1)
    sessions = api.plan(group["id"])
    leaving = api.enroll(group["id"], "p-1")
    api.enroll(group["id"], "p-2")
    past, _ = invite(api, sessions[0]["id"], "p-1")
    later, later_link = invite(api, sessions[3]["id"], "p-1")
    kept, kept_link = invite(api, sessions[3]["id"], "p-2")
    assert ics_events(api, later_link + ".ics")[sessions[3]["id"]]["STATUS"] == "CONFIRMED"
    during(api, sessions[0])
    r = api.put(
        f"/sessions/{sessions[0]['id']}/attendance",
        json={"records": [{"invitation_id": past, "status": "present"}]},
    )
    assert r.status_code == 200, r.get_json()

    r = api.post(f"/enrollments/{leaving['id']}/withdraw", json={"reason": "moved away"})
    assert r.status_code == 200, r.get_json()

    assert api.get(f"/invitations/{later}").get_json()["status"] == "revoked"
    assert api.get(f"/invitations/{past}").get_json()["status"] == "attended"
    assert api.get(f"/invitations/{kept}").get_json()["status"] == "accepted"
    invitee = ics_events(api, later_link + ".ics")[sessions[3]["id"]]
    assert invitee["STATUS"] == "CANCELLED" and invitee["SUMMARY"].startswith("Cancelled:")
    assert ics_events(api, kept_link + ".ics")[sessions[3]["id"]]["STATUS"] == "CONFIRMED"
    # The withdrawn patient's guest cannot be marked present at the later session.
    during(api, sessions[3])
    url = f"/sessions/{sessions[3]['id']}/attendance"
    body = problem(
        api.put(url, json={"records": [{"invitation_id": later, "status": "present"}]}), 409
    )
    assert "revoked" in body["detail"]
    ok = api.put(url, json={"records": [{"invitation_id": kept, "status": "present"}]})
    assert ok.status_code == 200, ok.get_json()
    rebuilt(api)


# --- 4 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["complete", "cancel"])
def test_ending_a_group_cancels_its_later_sessions_and_frees_their_reservations(
    api: Api, ending: str
) -> None:
    group = api.group(min_size=1)
    gid = group["id"]
    sessions = api.plan(gid)
    api.enroll(gid, "p-1")
    assert api.post(f"/groups/{gid}/start").status_code == 200
    # Before: another course at the same hours in the same room is refused.
    other = api.group(name="Next course", facilitator_ids=["t-bob"])
    later_plan = plan_body(first_date=sessions[3]["starts_at"][:10], count=9)
    clash = problem(api.post(f"/groups/{other['id']}/sessions", json=later_plan), 409)
    assert clash["colliding_session_id"] == sessions[3]["id"]
    during(api, sessions[2])  # the third meeting is under way

    body = {"reason": "facilitator on long leave"} if ending == "cancel" else {}
    r = api.post(f"/groups/{gid}/{ending}", json=body)
    assert r.status_code == 200, r.get_json()

    listed = api.get(f"/groups/{gid}/sessions?limit=50").get_json()["items"]
    assert [s["status"] for s in listed] == ["scheduled"] * 3 + ["cancelled"] * 9
    for kind, subject in (("patients", "p-1"), ("therapists", "t-ana")):
        events = feed_events(api, kind, subject)
        assert [events[s["id"]]["STATUS"] for s in sessions] == ["CONFIRMED"] * 3 + [
            "CANCELLED"
        ] * 9, kind
    room = api.get("/rooms/room-1/sessions?limit=50").get_json()["items"]
    assert [s["status"] for s in room] == ["scheduled"] * 3 + ["cancelled"] * 9
    # After: the room and the therapist's hours are free for another group.
    taken = api.post(f"/groups/{other['id']}/sessions", json=later_plan)
    assert taken.status_code == 201, taken.get_json()
    rebuilt(api)


# --- 9 ------------------------------------------------------------------------------------------


def test_a_closed_group_needs_an_admission_override_to_enroll(api: Api) -> None:
    planned = api.group(opened=False, name="Not yet open", room_id="room-2")
    refused = problem(api.post(f"/groups/{planned['id']}/enrollments", json=PATIENT_9), 409)
    assert "open" in refused["detail"]
    group = api.group(min_size=1)
    gid = group["id"]
    assert group["admission_closes_after"] == 2
    assert group["admission"] == {
        "closes_after": 2, "closed": False, "closes_at": None, "closing_session_id": None,
    }  # fmt: skip
    sessions = api.plan(gid)
    shown = api.get(f"/groups/{gid}").get_json()["admission"]
    assert (shown["closed"], shown["closing_session_id"]) == (False, sessions[1]["id"])
    assert shown["closes_at"] == sessions[1]["starts_at"]
    api.enroll(gid, "p-1")
    during(api, sessions[1], minutes=0)

    assert api.get(f"/groups/{gid}", role="billing").get_json()["admission"]["closed"] is True
    closed = problem(api.post(f"/groups/{gid}/enrollments", json=PATIENT_9), 409)
    assert closed["type"] == "urn:circles:problem:admission-closed"
    assert "admission_override_reason" in closed["detail"]
    assert closed["closes_at"] == sessions[1]["starts_at"]
    bad = {**PATIENT_9, "admission_override_reason": " "}
    assert (
        "admission_override_reason"
        in problem(api.post(f"/groups/{gid}/enrollments", json=bad), 422)["errors"]
    )
    reason = "clinical lead: joined after a delayed referral"
    r = api.post(
        f"/groups/{gid}/enrollments", json={**PATIENT_9, "admission_override_reason": reason}
    )
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["status"], r.get_json()["admission_override_reason"]) == (
        "enrolled", reason,
    )  # fmt: skip

    # The setting can change (PATCH) and is validated; null never closes.
    problem(api.patch(f"/groups/{gid}", json={"admission_closes_after": 0}), 422)
    problem(api.patch(f"/groups/{gid}", json={"admission_closes_after": "3"}), 422)
    r = api.patch(f"/groups/{gid}", json={"admission_closes_after": None})
    assert r.status_code == 200 and r.get_json()["admission"]["closed"] is False
    assert api.enroll(gid, "p-10")["status"] == "enrolled"
    created = api.group(
        name="Maintenance", modality="maintenance", room_id="room-3", admission_closes_after=3
    )
    assert created["admission_closes_after"] == 3
    maintenance = api.group(name="Monthly", modality="maintenance", room_id="room-4")
    assert maintenance["admission_closes_after"] is None
    bad_group = group_body(name="Bad", room_id="room-5", admission_closes_after=-1)
    assert "admission_closes_after" in problem(api.post("/groups", json=bad_group), 422)["errors"]
    rebuilt(api)


def test_a_late_withdrawal_leaves_the_waitlist_waiting_for_the_next_group(api: Api) -> None:
    group = api.group(max_size=2, min_size=1)
    gid = group["id"]
    sessions = api.plan(gid)
    first, second, waiting, last = (api.enroll(gid, p) for p in ("p-1", "p-2", "p-3", "p-4"))
    assert waiting["waiting_for"] == "seat"
    during(api, sessions[4])

    r = api.post(f"/enrollments/{first['id']}/withdraw", json={"reason": "moved away"})
    assert r.status_code == 200 and r.get_json()["promoted_enrollment_id"] is None
    listed = enrollments(api, gid)
    assert [(listed[p]["status"], listed[p]["waiting_for"]) for p in ("p-2", "p-3", "p-4")] == [
        ("enrolled", None), ("waitlisted", "next_group"), ("waitlisted", "next_group"),
    ]  # fmt: skip
    assert listed["p-3"]["waitlist_position"] == 1
    shown = api.get(f"/enrollments/{waiting['id']}").get_json()
    assert (shown["status"], shown["waiting_for"]) == ("waitlisted", "next_group")
    assert api.get(f"/groups/{gid}").get_json()["free_seats"] == 1

    # The coordinator may still seat the first who waited, with a reason.
    reason = "p-3 has been coming since the first meeting"
    r = api.post(
        f"/enrollments/{second['id']}/withdraw",
        json={"reason": "work", "admission_override_reason": reason},
    )
    assert r.status_code == 200 and r.get_json()["promoted_enrollment_id"] == waiting["id"]
    shown = api.get(f"/enrollments/{waiting['id']}").get_json()
    assert (shown["status"], shown["admission_override_reason"]) == ("enrolled", reason)
    assert enrollments(api, gid)["p-4"]["waiting_for"] == "next_group"
    # Raising capacity while closed seats no one without a reason either.
    r = api.patch(f"/groups/{gid}", json={"max_size": 3})
    assert r.status_code == 200 and r.get_json()["waitlist_count"] == 1
    r = api.patch(f"/groups/{gid}", json={"max_size": 4, "admission_override_reason": reason})
    assert r.status_code == 200 and r.get_json()["waitlist_count"] == 0
    assert api.get(f"/enrollments/{last['id']}").get_json()["status"] == "enrolled"
    rebuilt(api)
