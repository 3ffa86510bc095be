"""One session's page: reschedule, cancel, make-up, roster, attendance link and the invitation
workflow — each form the JSON route's command, each refusal in words where it belongs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tests.web.conftest import Site, csrf_of

DANA = "dana@clinic.example"
ANA = "ana@clinic.example"


def _clinic(site: Site) -> dict[str, Any]:
    """Tuesday IPT (t-ana, room-1, 18:00 New York from 2 March 2027) with two patients, and
    Thursday MIT (t-zed, room-2, 10:00 from 4 March). Now: 1 February 2027."""
    api = site.api
    site.clock.set(datetime(2027, 2, 1, 12, 0, tzinfo=UTC))
    tuesday = api.group(name="Tuesday evening IPT", guest_limit=1)
    sessions = api.plan(tuesday["id"], first_date="2027-03-02", count=12)
    for pid, name in (("p-1", "Alex Moreno"), ("p-2", "Bea Lindqvist")):
        api.enroll(tuesday["id"], pid, patient_name=name)
    thursday = api.group(
        name="Thursday MIT", modality="mit", facilitator_ids=["t-zed"], room_id="room-2"
    )
    other = api.plan(thursday["id"], first_date="2027-03-04", start_time="10:00", count=12)
    site.user(DANA, "coordinator", name="Dana Reyes")
    site.user(ANA, "therapist", "t-ana", name="Ana Silva")
    site.user("zed@clinic.example", "therapist", "t-zed", name="Zed Cole")
    return {"tuesday": tuesday, "sessions": sessions, "thursday": thursday, "other": other}


def _url(session: dict[str, Any]) -> str:
    return f"/web/sessions/{session['id']}"


def _version(site: Site, path: str) -> str:
    return str(site.api.get(path).get_json()["version"])


def test_the_page_shows_the_session_roster_and_links(site: Site) -> None:
    made = _clinic(site)
    dana = site.signed_in(DANA)
    second = made["sessions"][1]
    page = dana.text(_url(second))
    assert "<h1>Session 2: Tuesday evening IPT</h1>" in page
    assert "Tuesday 9 March 2027" in page and "18:00–19:30 EST" in page
    assert "America/New_York" in page and "regular" in page and "Scheduled" in page
    assert "room-1" in page and "Ana Silva (t-ana)" in page
    assert "0 of 1 places taken" in page
    assert "Alex Moreno" in page and "Bea Lindqvist" in page and "not recorded" in page
    assert f'href="/my/sessions/{second["id"]}/attendance"' in page
    assert 'value="2027-03-09T18:00"' in page  # the reschedule form starts at its local time
    assert "<strong>Scheduled</strong>" in page  # its history
    # Linked from the group's page and the week's.
    group_page = dana.text(f"/web/groups/{made['tuesday']['id']}")
    assert f'href="{_url(second)}"' in group_page
    site.clock.set(datetime(2027, 3, 8, 12, 0, tzinfo=UTC))
    dana = site.signed_in(DANA)
    assert f'href="{_url(second)}"' in dana.text("/web/week")
    assert dana.get("/web/sessions/not-a-session").status_code == 404


def test_reschedule_moves_the_session_and_refusals_keep_what_was_typed(site: Site) -> None:
    made = _clinic(site)
    dana = site.signed_in(DANA)
    second = made["sessions"][1]
    url = _url(second)
    version = _version(site, f"/sessions/{second['id']}")
    # No reason: refused beside the reason field, the new time kept.
    r = dana.submit(url, f"{url}/reschedule", version=version, starts_at="2027-03-10T17:00",
                    reason="")  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="reschedule-reason-error"' in text
    assert 'value="2027-03-10T17:00"' in text
    # A time the clocks skip: refused beside the time.
    r = dana.submit(url, f"{url}/reschedule", version=version, starts_at="2027-03-14T02:30",
                    reason="Room change")  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="reschedule-starts_at-error"' in text
    assert 'value="Room change"' in text
    # Onto Ana's other session: 409, naming and linking the session it collides with.
    third = made["sessions"][2]
    r = dana.submit(url, f"{url}/reschedule", version=version, starts_at="2027-03-16T18:30",
                    reason="Holiday")  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 409 and "Double booking" in text
    assert f'href="/web/sessions/{third["id"]}">Open the session it collides with' in text
    assert 'value="Holiday"' in text and 'value="2027-03-16T18:30"' in text
    # A stale version: 412, nothing saved.
    r = dana.submit(url, f"{url}/reschedule", version=str(int(version) - 1),
                    starts_at="2027-03-10T17:00", reason="Holiday")  # fmt: skip
    assert r.status_code == 412 and 'value="Holiday"' in r.get_data(as_text=True)
    assert (
        site.api.get(f"/sessions/{second['id']}")
        .get_json()["starts_at"]
        .startswith("2027-03-09T18:00")
    )
    # Done: local wall-clock time in the group's zone, by Dana.
    r = dana.submit(url, f"{url}/reschedule", version=version, starts_at="2027-03-10T17:00",
                    reason="Holiday")  # fmt: skip
    assert r.status_code == 302 and r.headers["Location"] == url
    page = dana.text(url)
    assert "The session was rescheduled" in page and "Wednesday 10 March 2027" in page
    assert "17:00–18:30 EST" in page and "Reason: Holiday" in page
    shown = site.api.get(f"/sessions/{second['id']}").get_json()
    assert shown["starts_at"] == "2027-03-10T17:00:00-05:00"
    history = site.api.get(f"/sessions/{second['id']}/history").get_json()["items"]
    assert history[-1]["actor"] == "Dana Reyes <coordinator dana@clinic.example>"


def test_cancel_then_schedule_a_make_up(site: Site) -> None:
    made = _clinic(site)
    dana = site.signed_in(DANA)
    fourth = made["sessions"][3]
    url = _url(fourth)
    version = _version(site, f"/sessions/{fourth['id']}")
    r = dana.submit(url, f"{url}/cancel", version=version, reason="")
    assert r.status_code == 422 and 'id="cancel-reason-error"' in r.get_data(as_text=True)
    r = dana.submit(url, f"{url}/cancel", version=version, reason="Therapist ill")
    assert r.status_code == 302
    page = dana.text(url)
    assert "The session was cancelled" in page and "<strong>Cancelled</strong>" in page
    assert "Reason: Therapist ill" in page and "Reschedule" not in page
    assert "Attendance sheet" not in page and "Schedule a make-up session" in page
    assert site.api.get(f"/sessions/{fourth['id']}").get_json()["status"] == "cancelled"
    group_version = _version(site, f"/groups/{made['tuesday']['id']}")
    # Onto Zed's room? No: onto Ana's session 5 — 409 with the link, what was typed kept.
    fifth = made["sessions"][4]
    r = dana.submit(url, f"{url}/make-up", group_version=group_version,
                    starts_at="2027-03-30T18:00", duration_minutes="90")  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 409 and f'href="/web/sessions/{fifth["id"]}"' in text
    assert 'value="2027-03-30T18:00"' in text
    r = dana.submit(url, f"{url}/make-up", group_version=group_version,
                    starts_at="2027-03-25T18:00", duration_minutes="5")  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="make-up-duration_minutes-error"' in text
    assert 'value="5"' in text
    r = dana.submit(url, f"{url}/make-up", group_version=group_version, starts_at="tomorrow")
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="make-up-starts_at-error"' in text
    r = dana.submit(url, f"{url}/make-up", group_version=group_version,
                    starts_at="2027-03-25T18:00", duration_minutes="60")  # fmt: skip
    assert r.status_code == 302
    made_up = r.headers["Location"]
    page = dana.text(made_up)
    assert "Make-up session 13 was added for session 4." in page
    assert "<h1>Session 13: Tuesday evening IPT</h1>" in page and "18:00–19:00 EDT" in page
    assert f'(make-up for <a href="{url}">session 4</a>)' in page
    original = dana.text(url)
    assert f'href="{made_up}">Session 13</a>' in original
    assert "has its make-up session" in original
    # A second make-up is refused by the route (the form is no longer offered).
    r = dana.submit(
        url,
        f"{url}/make-up",
        group_version=_version(site, f"/groups/{made['tuesday']['id']}"),
        starts_at="2027-03-26T18:00",
    )
    assert r.status_code == 409 and "already has a make-up" in r.get_data(as_text=True)


def test_the_invitation_workflow_from_proposal_to_the_link(site: Site) -> None:
    made = _clinic(site)
    dana = site.signed_in(DANA)
    second = made["sessions"][1]
    url = _url(second)
    version = _version(site, f"/sessions/{second['id']}")
    # Refusals beside their fields, what was typed kept.
    r = dana.submit(url, f"{url}/invitations", version=version, patient_id="p-1", invitee_name="",
                    relationship="spouse", invitee_email="not-an-email")  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'id="propose-invitee_name-error"' in text
    assert 'id="propose-invitee_email-error"' in text and 'value="not-an-email"' in text
    assert re.search(r'<option value="p-1" selected>', text)
    r = dana.submit(url, f"{url}/invitations", version=version, patient_id="p-9",
                    invitee_name="Sam Rivera", relationship="spouse")  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 409 and "p-9 is not enrolled" in text
    assert 'value="Sam Rivera"' in text
    r = dana.submit(url, f"{url}/invitations", version=version, patient_id="p-1",
                    invitee_name="Sam Rivera", relationship="spouse",
                    invitee_email="sam@example.org")  # fmt: skip
    assert r.status_code == 302
    page = dana.text(url)
    assert "The invitation of Sam Rivera was proposed" in page
    assert "Sam Rivera (spouse)" in page and "Guest of</dt><dd>Alex Moreno" in page
    assert "1 of 1 places taken" in page and "waiting for a facilitator" in page
    # The guest limit: a second guest is refused.
    r = dana.submit(url, f"{url}/invitations", version=_version(
        site, f"/sessions/{second['id']}"), patient_id="p-2", invitee_name="Kim Lee",
        relationship="parent")  # fmt: skip
    assert r.status_code == 409 and "guest places taken" in r.get_data(as_text=True)
    invitation = site.api.get(f"/sessions/{second['id']}").get_json()["invitation_ids"][0]
    step = f"{url}/invitations/{invitation}"
    # Consent before approval: refused, in words.
    r = dana.submit(url, f"{step}/consent", signed_by="Alex Moreno",
                    signed_at="2027-01-31T10:00", document_ref="scan-1")  # fmt: skip
    assert r.status_code == 409 and "after a facilitator has approved" in r.get_data(as_text=True)
    # A coordinator cannot approve; the facilitator can, from the same page (read-only else).
    r = dana.submit(url, f"{step}/approve")
    assert r.status_code == 403 and "for therapist" in r.get_data(as_text=True)
    ana = site.signed_in(ANA)
    ana_page = ana.text(url)
    assert "Reschedule" not in ana_page and "Propose a guest" not in ana_page
    assert "Approve" in ana_page and f"/my/sessions/{second['id']}/attendance" in ana_page
    assert f'href="{url}"' in ana.text("/my/week?week=2027-03-08")  # from her week
    r = ana.submit(url, f"{step}/approve")
    assert r.status_code == 302
    assert "The invitation approved." in ana.text(url)
    r = ana.submit(url, f"{step}/approve")  # twice: refused in words on her page
    assert r.status_code == 409 and "Cannot approve: the invitation is approved" in r.get_data(
        as_text=True
    )
    zed = site.signed_in("zed@clinic.example")
    assert zed.get(url).status_code == 404  # not his group: as the JSON route answers
    r = zed.client.post(f"{step}/approve", data={"csrf_token": csrf_of(zed.get("/my/week"))})
    assert r.status_code == 404
    r = ana.submit(url, f"{step}/consent", signed_by="x", signed_at="2027-01-31T10:00",
                   document_ref="y")  # fmt: skip
    assert r.status_code == 403
    # Consent: a time in the future and a blank reference, beside their fields.
    dana = site.signed_in(DANA)
    inv_version = _version(site, f"/invitations/{invitation}")
    r = dana.submit(url, f"{step}/consent", version=inv_version, signed_by="Alex Moreno",
                    signed_at="2027-02-05T10:00", document_ref="")  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 422
    assert f'id="consent-{invitation}-document_ref-error"' in text
    assert 'value="2027-02-05T10:00"' in text
    r = dana.submit(url, f"{step}/consent", version=inv_version, signed_by="Alex Moreno",
                    signed_at="yesterday", document_ref="scan-1")  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and f'id="consent-{invitation}-signed_at-error"' in text
    assert 'value="yesterday"' in text and 'value="scan-1"' in text
    r = dana.submit(url, f"{step}/consent", version=inv_version, signed_by="Alex Moreno",
                    signed_at="2027-02-05T10:00", document_ref="scan-1")  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and f'id="consent-{invitation}-signed_at-error"' in text
    assert "cannot be in the future" in text
    r = dana.submit(url, f"{step}/consent", version=inv_version, signed_by="Alex Moreno",
                    signed_at="2027-01-31T10:00", document_ref="scan-1")  # fmt: skip
    assert r.status_code == 302
    shown = site.api.get(f"/invitations/{invitation}").get_json()
    assert shown["consent"]["signed_at"] == "2027-01-31T10:00:00-05:00"
    page = dana.text(url)
    assert "Consent recorded: ready to send" in page and "document scan-1" in page
    # Send: the link shown once, on the answer itself and never again.
    r = dana.submit(url, f"{step}/send", version=_version(site, f"/invitations/{invitation}"))
    text = r.get_data(as_text=True)
    assert r.status_code == 200
    link = re.search(r'class="secret" href="([^"]+/i/[^"]+)"', text)
    assert link and "shown only this once" in text
    assert link.group(1) not in dana.text(url)
    assert "Sent: waiting for the invitee" in dana.text(url)
    # Sending again is refused in words.
    r = dana.submit(url, f"{step}/send")
    assert r.status_code == 409 and "the invitation is sent" in r.get_data(as_text=True)
    # Revoke: a reason is needed, then the place is free again.
    r = dana.submit(url, f"{step}/revoke", reason="")
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and f'id="revoke-{invitation}-reason-error"' in text
    r = dana.submit(url, f"{step}/revoke", reason="Patient changed their mind")
    assert r.status_code == 302
    page = dana.text(url)
    assert "The invitation was revoked." in page and "Revoked (the patient" in page
    assert "0 of 1 places taken" in page
    assert site.api.get(f"/invitations/{invitation}").get_json()["status"] == "revoked"
    assert dana.submit(url, f"{step}/explode").status_code == 404


def test_forms_without_their_csrf_token_change_nothing(site: Site) -> None:
    made = _clinic(site)
    dana = site.signed_in(DANA)
    second = made["sessions"][1]
    url = _url(second)
    dana.text(url)
    for action, data in [
        ("reschedule", {"starts_at": "2027-03-10T17:00", "reason": "x"}),
        ("cancel", {"reason": "x"}),
        ("make-up", {"starts_at": "2027-03-25T18:00"}),
        ("invitations", {"patient_id": "p-1", "invitee_name": "S", "relationship": "r"}),
    ]:
        r = dana.client.post(f"{url}/{action}", data=data)
        assert r.status_code == 400, action
        r = dana.client.post(f"{url}/{action}", data={**data, "csrf_token": "forged"})
        assert r.status_code == 400, action
    shown = site.api.get(f"/sessions/{second['id']}").get_json()
    assert shown["version"] == second["version"] and shown["invitation_ids"] == []
    r = dana.client.post(f"{url}/invitations/{second['id']}/revoke", data={"reason": "x"})
    assert r.status_code == 400


def test_the_page_needs_a_sign_in_and_a_staff_role(site: Site) -> None:
    made = _clinic(site)
    url = _url(made["sessions"][0])
    r = site.browser().get(url)
    assert r.status_code == 302 and "next=/web/sessions/" in r.headers["Location"]
    site.user("bill@clinic.example", "billing")
    bill = site.signed_in("bill@clinic.example")
    assert bill.get(url).status_code == 403


def test_once_attendance_is_recorded_the_page_offers_no_move_or_cancel(site: Site) -> None:
    made = _clinic(site)
    first = made["sessions"][0]
    site.clock.set(datetime(2027, 3, 2, 23, 30, tzinfo=UTC))  # session 1 has started
    dana = site.signed_in(DANA)
    before = dana.text(_url(first))
    assert "Why it moves" in before and "Cancel the session" in before
    r = site.api.put(f"/sessions/{first['id']}/attendance",
                     json={"records": [{"patient_id": "p-1", "status": "absent"}]})  # fmt: skip
    assert r.status_code == 200, r.get_json()
    page = dana.text(_url(first))
    assert "Why it moves" not in page and "Cancel the session" not in page
    assert "can no longer be moved or cancelled" in page
    assert f'<a href="/my/sessions/{first["id"]}/attendance">attendance sheet</a>' in page
    assert 'Alex Moreno</strong> <span class="detail">p-1</span>' in page
    assert "· Absent (no-show)</span>" in page  # a patient's absence is a no-show
