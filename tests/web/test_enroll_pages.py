"""Enroll, intake and withdraw from the group page: the JSON routes' commands, told in words."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tests.web.conftest import Browser, Site

DANA = "dana@clinic.example"


def _small_group(site: Site) -> tuple[Browser, dict[str, Any], str]:
    """An open IPT group of 2 seats, 12 Tuesdays from 2 March 2027; Dana signed in."""
    site.clock.set(datetime(2027, 2, 1, 12, 0, tzinfo=UTC))
    site.user(DANA, "coordinator", name="Dana Reyes")
    group = site.api.group(name="Small IPT", max_size=2, min_size=2)
    site.api.plan(group["id"], first_date="2027-03-02", count=12)
    return site.signed_in(DANA), group, f"/web/groups/{group['id']}"


def _enroll(browser: Browser, url: str, **fields: str) -> Any:
    return browser.submit(url, f"{url}/enroll", **fields)


def _enrollments(site: Site, group: dict[str, Any]) -> dict[str, dict[str, Any]]:
    items = site.api.get(f"/groups/{group['id']}/enrollments").get_json()["items"]
    return {e["patient_id"]: e for e in items}


def test_enroll_says_enrolled_or_waitlisted_with_the_position(site: Site) -> None:
    browser, group, url = _small_group(site)
    page = browser.text(url)
    assert 'action="' + url + '/enroll"' in page and "2 of 2 seats free." in page
    r = _enroll(browser, url, patient_id="p-1", patient_name="Alex Moreno")
    assert r.status_code == 302 and r.headers["Location"] == f"{url}#h-roster"
    assert "Alex Moreno (p-1) is enrolled: seat 1 of 2." in browser.text(url)
    _enroll(browser, url, patient_id="p-2", patient_name="Bea Lindqvist")
    r = _enroll(browser, url, patient_id="p-3", patient_name="Chidi Okafor")
    assert r.status_code == 302
    page = browser.text(url)
    assert "Chidi Okafor (p-3) is waitlisted, position 1: the group is full." in page
    assert "The group is full: a new patient joins the waitlist." in page
    found = _enrollments(site, group)
    assert {p: e["status"] for p, e in found.items()} == {
        "p-1": "enrolled", "p-2": "enrolled", "p-3": "waitlisted",
    }  # fmt: skip
    assert f'href="/web/enrollments/{found["p-3"]["id"]}">Chidi Okafor</a>' in page
    history = site.api.get(f"/enrollments/{found['p-1']['id']}/history").get_json()["items"]
    assert history[0]["actor"] == "Dana Reyes <coordinator dana@clinic.example>"


def test_enroll_refusals_in_words_nothing_lost(site: Site) -> None:
    browser, group, url = _small_group(site)
    r = _enroll(browser, url, patient_id="p-1", patient_name="")
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="enroll-patient_name-error"' in text
    assert 'value="p-1"' in text and "Correct the marked fields: Patient name." in text
    _enroll(browser, url, patient_id="p-1", patient_name="Alex Moreno")
    r = _enroll(browser, url, patient_id="p-1", patient_name="Alex again")
    text = r.get_data(as_text=True)
    assert r.status_code == 409 and "Already exists" in text
    assert "Patient p-1 is already enrolled in group" in text and 'value="Alex again"' in text
    assert len(_enrollments(site, group)) == 1
    r = browser.client.post(f"{url}/enroll", data={"patient_id": "p-9", "patient_name": "X"})
    assert r.status_code == 400 and len(_enrollments(site, group)) == 1  # no CSRF token


def test_intake_records_the_area_and_the_inventory(site: Site) -> None:
    browser, group, url = _small_group(site)
    _enroll(browser, url, patient_id="p-1", patient_name="Alex Moreno")
    eid = _enrollments(site, group)["p-1"]["id"]
    page = f"/web/enrollments/{eid}"
    assert "intake not recorded" in browser.text(url)
    # The inventory not done: refused beside the box, the area chosen kept.
    r = browser.submit(page, f"{page}/intake", primary_area="role_dispute")
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="intake-inventory-error"' in text
    assert "the interpersonal inventory must be done" in text
    assert '<option value="role_dispute" selected>' in text
    r = browser.submit(page, f"{page}/intake", primary_area="", inventory_done="yes")
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="intake-area-error"' in text
    r = browser.submit(page, f"{page}/intake", primary_area="role_dispute", inventory_done="yes")
    assert r.status_code == 302
    shown = browser.text(url)
    assert "Intake recorded for Alex Moreno: role dispute, inventory done." in shown
    assert "p-1 · role dispute" in shown
    got = site.api.get(f"/enrollments/{eid}").get_json()
    assert got["primary_area"] == "role_dispute" and got["inventory_done"] is True
    assert "Correct the intake" in browser.text(page)


def test_withdraw_names_who_was_promoted(site: Site) -> None:
    browser, group, url = _small_group(site)
    for pid, name in [("p-1", "Alex Moreno"), ("p-2", "Bea Lindqvist"), ("p-3", "Chidi Okafor")]:
        _enroll(browser, url, patient_id=pid, patient_name=name)
    eid = _enrollments(site, group)["p-1"]["id"]
    page = f"/web/enrollments/{eid}"
    text = browser.text(page)
    assert "The first on the waitlist takes the seat." in text
    r = browser.submit(page, f"{page}/withdraw", reason="")
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="withdraw-reason-error"' in text
    r = browser.submit(page, f"{page}/withdraw", reason="Moved away")
    assert r.status_code == 302
    shown = browser.text(url)
    assert (
        "Alex Moreno (p-1) was withdrawn: Moved away. Chidi Okafor (p-3) was promoted from the "
        "waitlist into the seat." in shown
    )
    found = _enrollments(site, group)
    assert found["p-3"]["status"] == "enrolled" and found["p-1"]["status"] == "withdrawn"
    # Withdrawn: nothing more to do on the page; withdrawing again is refused in words.
    assert "Why is the patient leaving?" not in browser.text(page)
    r = browser.submit(url, f"{page}/withdraw", reason="Twice")
    assert r.status_code == 409 and "Not possible in the current state" in r.get_data(as_text=True)
    # Someone waiting is taken off the waitlist: nobody to promote.
    _enroll(browser, url, patient_id="p-4", patient_name="Dee Late")
    waiting = f"/web/enrollments/{_enrollments(site, group)['p-4']['id']}"
    assert "waitlisted, position 1" in browser.text(waiting)
    r = browser.submit(waiting, f"{waiting}/withdraw", reason="Found another group")
    assert r.status_code == 302
    assert "Dee Late (p-4) was taken off the waitlist: Found another group." in browser.text(url)


def test_a_closed_group_needs_an_admission_override(site: Site) -> None:
    browser, group, url = _small_group(site)
    for pid in ("p-1", "p-2"):
        _enroll(browser, url, patient_id=pid, patient_name=f"Patient {pid}")
    _enroll(browser, url, patient_id="p-3", patient_name="Chidi Okafor")
    # Session 2 (9 March) has started: the group is closed to newcomers.
    site.clock.set(datetime(2027, 3, 10, 12, 0, tzinfo=UTC))
    browser = site.signed_in(DANA)
    page = browser.text(url)
    assert "Reason to admit after the group closed" in page
    r = _enroll(browser, url, patient_id="p-4", patient_name="Dee Late")
    text = r.get_data(as_text=True)
    assert r.status_code == 409 and "Closed to newcomers" in text
    assert 'id="enroll-admission_override_reason-error"' in text and 'value="Dee Late"' in text
    r = _enroll(browser, url, patient_id="p-4", patient_name="Dee Late",
                admission_override_reason="Referred by her therapist")  # fmt: skip
    assert r.status_code == 302
    assert (
        "Dee Late (p-4) is waitlisted, position 2: the group has closed to newcomers, so this "
        "is a wait for the next group." in browser.text(url)
    )
    # A late withdrawal leaves the waitlist waiting, unless the coordinator overrides.
    eid = _enrollments(site, group)["p-1"]["id"]
    page_url = f"/web/enrollments/{eid}"
    assert "without a reason the seat stays free" in browser.text(page_url)
    r = browser.submit(page_url, f"{page_url}/withdraw", reason="Moved away")
    assert r.status_code == 302
    assert (
        "The group has closed to newcomers, so nobody was promoted: 2 waiting for the next "
        "group." in browser.text(url)
    )
    eid = _enrollments(site, group)["p-2"]["id"]
    page_url = f"/web/enrollments/{eid}"
    r = browser.submit(page_url, f"{page_url}/withdraw", reason="Work shifts",
                       admission_override_reason="Early enough in the course")  # fmt: skip
    assert r.status_code == 302
    shown = browser.text(url)
    assert "Chidi Okafor (p-3) was promoted from the waitlist into the seat." in shown
    assert re.search(r"Patient p-2.*withdrawn", shown, re.S)
