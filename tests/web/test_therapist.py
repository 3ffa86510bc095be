"""A therapist's week and attendance sheet: the same rules and records as the JSON API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.web.conftest import Site, csrf_of


def _group_with_patients(site: Site) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    api = site.api
    group = api.group(name="Tuesday evening IPT")
    sessions = api.plan(group["id"], first_date="2027-03-02", count=12)
    for pid in ("p-1", "p-2", "p-3"):
        api.enroll(group["id"], pid, patient_name=f"Patient {pid}")
    return group, sessions


def test_week_lists_my_sessions_in_local_time(site: Site) -> None:
    site.user("ana@clinic.example", "therapist", "t-ana")
    _group_with_patients(site)
    site.clock.set(datetime(2027, 3, 3, 12, 0, tzinfo=UTC))
    browser = site.signed_in("ana@clinic.example")
    page = browser.text("/my/week")
    assert "Tuesday 2 March" in page and "18:00–19:30 EST" in page
    assert "Tuesday evening IPT" in page and "room-1" in page
    assert "not taken yet" in page
    later = browser.text("/my/week?week=2027-03-16")  # after the clocks change
    assert "Tuesday 16 March" in later and "18:00–19:30 EDT" in later
    bad = browser.text("/my/week?week=someday")
    assert "is not a date" in bad


def test_attendance_sheet_saves_in_one_submit_and_the_api_shows_it(site: Site) -> None:
    ana = site.user("ana@clinic.example", "therapist", "t-ana", name="Ana Silva")
    _, sessions = _group_with_patients(site)
    sid = sessions[0]["id"]
    site.clock.set(datetime(2027, 3, 2, 23, 30, tzinfo=UTC))
    browser = site.signed_in("ana@clinic.example")
    url = f"/my/sessions/{sid}/attendance"
    page = browser.text(url)
    assert page.count('type="radio"') == 15  # 3 patients × 5 statuses
    r = browser.submit(
        url,
        **{
            "status:patient:p-1": "present",
            "status:patient:p-2": "absent",
            "status:patient:p-3": "late",
        },
    )
    assert r.status_code == 302
    assert "Attendance saved: 3 changes." in browser.text(url)

    shown = site.api.get(f"/sessions/{sid}").get_json()
    assert {a["patient_id"]: a["status"] for a in shown["attendance"]} == {
        "p-1": "present", "p-2": "absent", "p-3": "late",
    }  # fmt: skip
    history = site.api.get(f"/sessions/{sid}/history").get_json()["items"]
    recorded = [e for e in history if e["type"] == "TherapySession.AttendanceRecorded"]
    assert len(recorded) == 3
    assert (
        {e["actor"] for e in recorded}
        == {ana.actor}
        == {"Ana Silva <therapist ana@clinic.example>"}
    )

    # A correction, sent as the page sends it: every person's status and what it showed.
    r = browser.submit(
        url,
        **{
            "status:patient:p-1": "present",
            "seen:patient:p-1": "present",
            "status:patient:p-2": "excused",
            "seen:patient:p-2": "absent",
        },
    )
    assert "Attendance saved: 1 change." in browser.text(url)
    assert r.status_code == 302
    shown = site.api.get(f"/sessions/{sid}").get_json()
    assert {a["patient_id"]: a["status"] for a in shown["attendance"]}["p-2"] == "excused"


def test_attendance_errors_are_shown_in_words_and_choices_kept(site: Site) -> None:
    site.user("ana@clinic.example", "therapist", "t-ana")
    site.user("zed@clinic.example", "therapist", "t-zed")
    _, sessions = _group_with_patients(site)
    sid = sessions[0]["id"]
    url = f"/my/sessions/{sid}/attendance"
    browser = site.signed_in("ana@clinic.example")
    page = browser.text(url)
    assert "has not started yet" in page and "Save attendance" not in page
    r = browser.submit(url, **{"status:patient:p-1": "present"})
    assert r.status_code == 409
    assert "Attendance can be recorded only once the session has started" in r.get_data(
        as_text=True
    )

    site.clock.set(datetime(2027, 3, 2, 23, 30, tzinfo=UTC))  # idle by now: sign in again
    browser = site.signed_in("ana@clinic.example")
    r = browser.submit(url, **{"status:patient:p-1": "present", "status:patient:p-2": "asleep"})
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'id="person-1-error"' in page and "Must be one of" in page
    assert 'value="present" checked' in page  # what was chosen is still chosen
    assert site.api.get(f"/sessions/{sid}").get_json()["attendance"] == []  # nothing saved
    r = browser.submit(url)
    assert r.status_code == 302 and "Nothing changed" in browser.text(url)

    token_page = browser.text(url)
    site.api.put(f"/sessions/{sid}/attendance",
                 json={"records": [{"patient_id": "p-3", "status": "late"}]})  # fmt: skip
    token = csrf_of(browser.get(url))
    version = token_page.split('name="version" value="')[1].split('"')[0]
    r = browser.client.post(url, data={"csrf_token": token, "version": version,
                                       "status:patient:p-1": "absent"})  # fmt: skip
    assert r.status_code == 412 and "Recorded: Late" in r.get_data(as_text=True)

    zed = site.signed_in("zed@clinic.example")
    r = zed.get(url)
    # As for a therapist key: another group's session answers as if it did not exist.
    assert r.status_code == 404 and "No session with id" in r.get_data(as_text=True)
    assert (
        zed.get("/my/sessions/00000000-0000-0000-0000-000000000000/attendance").status_code == 404
    )


def test_the_sheet_lists_only_patients_enrolled_at_that_time(site: Site) -> None:
    site.user("ana@clinic.example", "therapist", "t-ana")
    group, sessions = _group_with_patients(site)
    site.clock.set(datetime(2027, 3, 10, 12, 0, tzinfo=UTC))  # after session 2
    site.api.enroll(group["id"], "p-late", patient_name="Late Joiner",
                    admission_override_reason="moved from the Monday group")  # fmt: skip
    browser = site.signed_in("ana@clinic.example")
    first = browser.text(f"/my/sessions/{sessions[0]['id']}/attendance")
    third = browser.text(f"/my/sessions/{sessions[2]['id']}/attendance")
    assert "Late Joiner" not in first and "Patient p-1" in first
    assert "Late Joiner" in third


def test_the_sheet_shows_who_is_at_risk(site: Site) -> None:
    site.user("ana@clinic.example", "therapist", "t-ana")
    _, sessions = _group_with_patients(site)
    site.clock.set(datetime(2027, 3, 16, 23, 30, tzinfo=UTC))  # session 3 has started
    for session in sessions[:2]:
        records = [
            {"patient_id": "p-2", "status": "absent"},
            {"patient_id": "p-1", "status": "present"},
        ]
        r = site.api.put(f"/sessions/{session['id']}/attendance", json={"records": records})
        assert r.status_code == 200
    browser = site.signed_in("ana@clinic.example")
    page = browser.text(f"/my/sessions/{sessions[2]['id']}/attendance")
    assert page.count("at risk: two no-shows in a row") == 1
    at_risk = page.index("at risk: two no-shows")
    assert page.rindex("Patient p-2", 0, at_risk) > page.rindex("Patient p-1", 0, at_risk)


def test_an_accepted_guest_is_on_the_sheet_with_the_guest_statuses(site: Site) -> None:
    api = site.api
    site.user("ana@clinic.example", "therapist", "t-ana")
    _, sessions = _group_with_patients(site)
    sid = sessions[0]["id"]
    body = {"patient_id": "p-1", "invitee_name": "Sam Moreno", "relationship": "spouse"}
    iid = api.post(f"/sessions/{sid}/invitations", json=body).get_json()["id"]
    assert api.post(f"/invitations/{iid}/approve", role="therapist").status_code == 200
    consent = {"signed_by": "Patient p-1", "signed_at": "2027-01-03T10:00:00+00:00",
               "document_ref": "d-1"}  # fmt: skip
    assert api.post(f"/invitations/{iid}/consent", json=consent).status_code == 200
    link = api.post(f"/invitations/{iid}/send").get_json()["url"]
    token = link.rsplit("/", 1)[-1]
    assert api.post(f"/i/{token}/accept", role=None).status_code == 200

    site.clock.set(datetime(2027, 3, 2, 23, 30, tzinfo=UTC))
    browser = site.signed_in("ana@clinic.example")
    url = f"/my/sessions/{sid}/attendance"
    page = browser.text(url)
    assert "Sam Moreno" in page and "guest of Patient p-1" in page
    assert page.count('type="radio"') == 3 * 5 + 3  # a guest: present, late or absent
    r = browser.submit(url, **{"status:guest:" + iid: "present"})
    assert r.status_code == 302
    guests = api.get(f"/sessions/{sid}").get_json()["guests"]
    assert guests == [{"invitation_id": iid, "status": "present"}]


def test_links_built_once_are_the_routes_links_also_under_a_script_root(site: Site) -> None:
    """The layout's links and the week's are built once per app and script root, then
    filled in: they are still the routes' own links, also where the app is mounted."""
    site.user("ana@clinic.example", "therapist", "t-ana")
    _, sessions = _group_with_patients(site)
    sid = sessions[0]["id"]
    site.clock.set(datetime(2027, 3, 3, 12, 0, tzinfo=UTC))
    browser = site.signed_in("ana@clinic.example")
    for root in ("", "/clinic", ""):
        r = browser.get("/my/week", base_url=f"http://localhost{root}/")
        assert r.status_code == 200, r.status_code
        page = r.get_data(as_text=True)
        for link in (
            f'href="{root}/web/static/circles.css"',
            f'href="{root}/my/week" aria-current="page"',
            f'href="{root}/account"',
            f'action="{root}/sign-out"',
            f'href="{root}/web/sessions/{sid}"',
            f'href="{root}/my/sessions/{sid}/attendance"',
            f'href="{root}/my/week?week=2027-02-22"',
            f'href="{root}/my/week?week=2027-03-08"',
        ):
            assert link in page, (root, link)
        sheet = browser.text(f"/my/sessions/{sid}/attendance")
        assert 'href="/my/week?week=2027-03-02"' in sheet
