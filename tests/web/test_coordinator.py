"""A coordinator's pages: this week, the group list and a group's page — the JSON API's data
and rules, shown in words."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from service.web import coordinator
from tests.web.conftest import Browser, Site, csrf_of

DANA = "dana@clinic.example"


def _dana(site: Site) -> Browser:
    """Dana signs in (after the clinic is set up: moving the clock ends idle sessions)."""
    site.user(DANA, "coordinator", name="Dana Reyes")
    site.user("ana@clinic.example", "therapist", "t-ana", name="Ana Silva")
    return site.signed_in(DANA)


def _busy_clinic(site: Site) -> dict[str, Any]:
    """Tuesday IPT (2 of 8, below its minimum of 4, one patient absent twice, one invitation
    proposed) and Thursday MIT (full at 2, one waiting)."""
    api = site.api
    site.clock.set(datetime(2027, 2, 1, 12, 0, tzinfo=UTC))
    tuesday = api.group(name="Tuesday evening IPT")
    t_sessions = api.plan(tuesday["id"], first_date="2027-03-02", count=12)
    for pid in ("p-1", "p-2"):
        api.enroll(tuesday["id"], pid, patient_name=f"Patient {pid}")
    thursday = api.group(
        name="Thursday MIT", modality="mit", facilitator_ids=["t-zed"], room_id="room-2",
        max_size=2, min_size=2,
    )  # fmt: skip
    api.plan(thursday["id"], first_date="2027-03-04", start_time="10:00", count=12)
    for pid in ("p-3", "p-4", "p-5"):
        api.enroll(thursday["id"], pid, patient_name=f"Patient {pid}")
    r = api.post(
        f"/sessions/{t_sessions[2]['id']}/invitations",
        json={"patient_id": "p-2", "invitee_name": "Sam Rivera", "relationship": "spouse"},
    )
    assert r.status_code == 201, r.get_json()
    site.clock.set(datetime(2027, 3, 10, 12, 0, tzinfo=UTC))  # Wednesday of week 2
    for s in t_sessions[:2]:
        r = api.put(
            f"/sessions/{s['id']}/attendance",
            json={"records": [{"patient_id": "p-1", "status": "absent"},
                              {"patient_id": "p-2", "status": "present"}]},
        )  # fmt: skip
        assert r.status_code == 200, r.get_json()
    return {"tuesday": tuesday, "thursday": thursday, "t_sessions": t_sessions}


def test_this_week_is_the_coordinators_home(site: Site) -> None:
    made = _busy_clinic(site)
    browser = _dana(site)
    page = browser.text("/home")
    assert "<h1>This week</h1>" in page
    assert 'aria-current="page">This week' in page
    assert "Tuesday 9 March" in page and "18:00–19:30 EST" in page
    assert "Thursday 11 March" in page and "10:00–11:30 EST" in page
    assert f'href="/web/groups/{made["tuesday"]["id"]}">Tuesday evening IPT</a>' in page
    assert "room-1" in page and "Ana Silva (t-ana)" in page and "t-zed" in page
    assert "2 of 8 taken" in page and "2 of 2 taken, 1 waiting" in page
    assert "Held" in page and "Scheduled" in page
    # What needs attention.
    assert "Below the minimum size" in page and "2 enrolled, needs 4" in page
    assert "Thursday MIT</a>: 1 waiting" in page
    assert "Patients at risk" in page and "Patient p-1 (p-1)" in page
    assert (
        "Sam Rivera (spouse) for p-2" in page and "waiting for a therapist&#39;s approval" in page
    )
    # The same page at /web/week, and other weeks.
    assert browser.text("/web/week").count("<h1>This week</h1>") == 1
    later = browser.text("/web/week?week=2027-03-16")
    assert "The week of 15 March" in later and "18:00–19:30 EDT" in later
    assert "Tuesday 9 March" not in later
    assert "is not a date" in browser.text("/web/week?week=soon")


def test_the_week_is_only_for_coordinators(site: Site) -> None:
    site.user("ana@clinic.example", "therapist", "t-ana")
    ana = site.signed_in("ana@clinic.example")
    r = ana.get("/web/week")
    assert r.status_code == 403 and "for coordinator accounts" in r.get_data(as_text=True)
    assert ana.get("/web/groups").status_code == 403
    assert "Welcome" in ana.text("/home")  # a therapist's home is unchanged


def test_group_list_filters_and_pages(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    made = _busy_clinic(site)
    browser = _dana(site)
    site.api.group(name="Planned DIT", modality="dit", opened=False, facilitator_ids=["t-ana"])
    page = browser.text("/web/groups")
    assert all(n in page for n in ("Tuesday evening IPT", "Thursday MIT", "Planned DIT"))
    assert 'aria-current="page">Groups' in page
    only_mit = browser.text("/web/groups?modality=mit")
    assert "Thursday MIT" in only_mit and "Tuesday evening IPT" not in only_mit
    planned = browser.text("/web/groups?status=planned")
    assert "Planned DIT" in planned and "Thursday MIT" not in planned
    ana = browser.text("/web/groups?therapist_id=t-ana")
    assert "Tuesday evening IPT" in ana and "Planned DIT" in ana and "Thursday MIT" not in ana
    both = browser.text("/web/groups?therapist_id=t-ana&status=open")
    assert "Tuesday evening IPT" in both and "Planned DIT" not in both
    assert "No group matches these filters." in browser.text("/web/groups?modality=maintenance")
    assert f'/web/groups/{made["thursday"]["id"]}"' in page
    # A refused filter, in words beside its field, the typed value kept.
    r = browser.get("/web/groups?therapist_id=no%20spaces%21")
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="therapist_id-error"' in text
    assert 'value="no spaces!"' in text
    # Paging: two at a time, the filters carried along.
    monkeypatch.setattr(coordinator, "PAGE_SIZE", 2)
    first = browser.text("/web/groups")
    assert "Tuesday evening IPT" in first and "Planned DIT" not in first
    following = re.search(r'href="(/web/groups\?cursor=[^"]+)">Next page', first)
    assert following
    second = browser.text(following.group(1).replace("&amp;", "&"))
    assert "Planned DIT" in second and "Tuesday evening IPT" not in second
    assert "First page" in second and "Next page" not in second


def test_group_page_shows_settings_fees_roster_sessions_history(site: Site) -> None:
    made = _busy_clinic(site)
    browser = _dana(site)
    gid = made["thursday"]["id"]
    r = site.api.patch(
        f"/groups/{gid}",
        json={"fees": {"session_fee": "60.00", "maintenance_fee": "40.00", "no_show_fee": "30.00",
                       "late_cancel_fee": "20.00"},
              "fees_effective_from": "2027-04-01T00:00:00+00:00"},
        headers={"If-Match": str(site.api.get(f"/groups/{gid}").get_json()["version"])},
    )  # fmt: skip
    assert r.status_code == 200, r.get_json()
    page = browser.text(f"/web/groups/{gid}")
    assert "<h1>Thursday MIT</h1>" in page
    assert "Metacognitive interpersonal therapy (MIT)" in page and "room-2" in page
    assert "America/New_York" in page and "2 to 2 patients" in page
    assert "60.00 USD" in page and "1 Apr 2027" in page  # the fee history, both periods
    assert "Patient p-3" in page and "Patient p-4" in page
    waiting = r'<strong>1\.</strong> <a href="/web/enrollments/[0-9a-f-]+">Patient p-5</a>'
    assert re.search(waiting, page)
    assert "waiting for a seat in this group" in page
    assert "Thu 4 Mar 2027" in page and "10:00–11:30 EST" in page and "Thu 18 Mar 2027" in page
    assert "10:00–11:30 EDT" in page and "regular" in page
    history = site.api.get(f"/groups/{gid}/history").get_json()["items"]
    assert page.count("<li>\n      <strong>") == len(history)  # every event, one line each
    assert "<strong>Created</strong>" in page and "<strong>Fees changed</strong>" in page
    assert "by test coordinator &lt;coordinator key" in page
    assert "patient id: p-5" in page
    assert "seated: no" in page and "seated: yes" in page and "seated: False" not in page
    # Each seated patient's calendar link, one click away.
    link = '<a href="/web/feed-links?kind=patient&amp;id=p-3">Calendar link'
    assert link + '<span class="visually-hidden"> for Patient p-3</span></a>' in page
    assert "feed-links?kind=patient&amp;id=p-5" not in page  # waiting: no sessions yet
    assert "Start the course" in page and "Cancel the group" in page
    first = made["t_sessions"][0]["id"]
    tuesday = browser.text(f"/web/groups/{made['tuesday']['id']}")
    assert f'href="/my/sessions/{first}/attendance">Attendance' in tuesday  # held
    assert '</a> <span class="detail">1 of 2 came</span>' in tuesday  # p-1 absent, p-2 came
    sheet = browser.text(f"/my/sessions/{first}/attendance")
    assert "Patient p-1" in sheet and f'href="/web/groups/{made["tuesday"]["id"]}"' in sheet
    assert "Open for enrollment" not in page


def test_lifecycle_actions_and_their_refusals_in_words(site: Site) -> None:
    made = _busy_clinic(site)
    browser = _dana(site)
    planned = site.api.group(name="Spring IPT", opened=False)
    url = f"/web/groups/{planned['id']}"
    r = browser.submit(url, f"{url}/open", version=str(planned["version"]))
    assert r.status_code == 302 and r.headers["Location"] == url
    page = browser.text(url)
    assert "The group was opened for enrollment." in page and "Start the course" in page

    # Start refused: below the minimum. The words the JSON client gets, at the top.
    tuesday = made["tuesday"]["id"]
    turl = f"/web/groups/{tuesday}"
    version = site.api.get(f"/groups/{tuesday}").get_json()["version"]
    r = browser.submit(turl, f"{turl}/start", version=str(version))
    text = r.get_data(as_text=True)
    assert r.status_code == 409 and 'role="alert"' in text
    assert "needs at least 4 enrolled patients to start; it has 2" in text
    assert site.api.get(f"/groups/{tuesday}").get_json()["status"] == "open"

    # Cancel without a reason: refused beside the field; with one: done, by Dana.
    r = browser.submit(turl, f"{turl}/cancel", version=str(version), reason="")
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="cancel-reason-error"' in text
    # A stale version (someone changed the group meanwhile): refused, what was typed kept.
    r = browser.submit(turl, f"{turl}/cancel", version=str(version - 1), reason="Therapist away")
    text = r.get_data(as_text=True)
    assert r.status_code == 412 and 'value="Therapist away"' in text
    r = browser.submit(turl, f"{turl}/cancel", version=str(version), reason="Therapist away")
    assert r.status_code == 302
    page = browser.text(turl)
    assert "The group was cancelled." in page and "Reason: Therapist away" in page
    assert "Dana Reyes &lt;coordinator dana@clinic.example&gt;" in page
    shown = site.api.get(f"/groups/{tuesday}").get_json()
    assert shown["status"] == "cancelled"
    history = site.api.get(f"/groups/{tuesday}/history").get_json()["items"]
    assert history[-1]["actor"] == "Dana Reyes <coordinator dana@clinic.example>"
    assert "its course is over" in page

    # A form without its CSRF token is refused and changes nothing.
    r = browser.client.post(f"{url}/cancel", data={"reason": "x", "version": "1"})
    assert r.status_code == 400
    assert site.api.get(f"/groups/{planned['id']}").get_json()["status"] == "open"
    assert browser.get(f"{url}/explode").status_code == 405
    assert browser.get("/web/groups/not-a-group").status_code == 404
    assert csrf_of(browser.get(url))


def test_a_refused_status_filter_is_named_at_the_top(site: Site) -> None:
    browser = _dana(site)
    r = browser.get("/web/groups?status=sleeping&modality=ipt")
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and "<strong>status</strong>" in text
    assert '<option value="ipt" selected>' in text


FORM = {
    "name": "Monday grief IPT", "modality": "ipt", "focus_area": "grief", "format": "hybrid",
    "facilitator_ids": "t-ana, t-zed", "room_id": "room-3",
    "video_url": "https://video.example/monday", "timezone": "Europe/Berlin",
    "max_size": "9", "min_size": "5", "guest_limit": "1", "admission_closes_after": "3",
    "length_override_reason": "", "currency": "eur",
    "fees.session_fee": "70.00", "fees.maintenance_fee": "50.00", "fees.no_show_fee": "35.00",
    "fees.late_cancel_fee": "20.00", "fees.late_cancel_window_hours": "48",
    "fees.billing_codes.intake": "90791", "fees.billing_codes.regular": "90853",
    "fees.billing_codes.maintenance": "90853",
}  # fmt: skip


def test_create_group_builds_the_json_routes_command(site: Site) -> None:
    browser = _dana(site)
    assert 'href="/web/groups/new"' in browser.text("/web/groups")
    page = browser.text("/web/groups/new")
    assert "t-ana (Ana Silva)" in page  # therapists with accounts, named in the hint
    r = browser.submit("/web/groups/new", **FORM)
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    gid = r.headers["Location"].rsplit("/", 1)[1]
    shown = site.api.get(f"/groups/{gid}").get_json()
    assert {k: shown[k] for k in ("name", "modality", "focus_area", "format", "facilitator_ids",
                                  "room_id", "video_url", "timezone", "max_size", "min_size",
                                  "guest_limit", "admission_closes_after", "currency",
                                  "status")} == {
        "name": "Monday grief IPT", "modality": "ipt", "focus_area": "grief", "format": "hybrid",
        "facilitator_ids": ["t-ana", "t-zed"], "room_id": "room-3",
        "video_url": "https://video.example/monday", "timezone": "Europe/Berlin",
        "max_size": 9, "min_size": 5, "guest_limit": 1, "admission_closes_after": 3,
        "currency": "EUR", "status": "planned",
    }  # fmt: skip
    assert shown["fees"]["session_fee"] == "70.00"
    assert shown["fees"]["late_cancel_window_hours"] == 48
    assert shown["fees"]["billing_codes"]["intake"] == "90791"
    history = site.api.get(f"/groups/{gid}/history").get_json()["items"]
    assert history[0]["actor"] == "Dana Reyes <coordinator dana@clinic.example>"
    page = browser.text(f"/web/groups/{gid}")
    assert "was created" in page and "Monday grief IPT" in page
    # Never closing to newcomers is a null, as in JSON.
    r = browser.submit("/web/groups/new", **{**FORM, "name": "Open door", "room_id": "room-4",
                                            "admission_never": "1"})  # fmt: skip
    assert r.status_code == 302
    gid = r.headers["Location"].rsplit("/", 1)[1]
    assert site.api.get(f"/groups/{gid}").get_json()["admission_closes_after"] is None


def test_create_group_refusals_beside_their_fields_nothing_lost(site: Site) -> None:
    browser = _dana(site)
    bad = {**FORM, "max_size": "lots", "fees.session_fee": "seventy", "facilitator_ids": "",
           "video_url": "http://insecure.example"}  # fmt: skip
    r = browser.submit("/web/groups/new", **bad)
    text = r.get_data(as_text=True)
    assert r.status_code == 422
    for field in ("max_size", "fee-session_fee", "facilitator_ids", "video_url"):
        assert f'id="{field}-error"' in text, field
    assert 'value="lots"' in text and 'value="seventy"' in text
    assert 'value="Monday grief IPT"' in text and 'value="90791"' in text
    assert '<option value="hybrid" selected>' in text
    assert site.api.get("/groups").get_json()["items"] == []  # nothing written
    # A rule of the domain (not the schema): the JSON route's words.
    r = browser.submit("/web/groups/new", **{**FORM, "timezone": "Mars/Olympus"})
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="timezone-error"' in text
    assert 'value="Mars/Olympus"' in text
    r = browser.submit("/web/groups/new", **{**FORM, "min_size": "12"})
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="max_size-error"' in text
    assert "cannot be smaller than min_size (12)" in text
    assert "Correct the marked fields: Most patients." in text
