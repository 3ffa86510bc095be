"""Planning with a preview, enrolling, intake and withdrawal, in a real browser (axe, keyboard,
320 px)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Site
from tests.browser.helpers import api_json, assert_accessible, assert_fits, sign_in

pytestmark = pytest.mark.browser
DANA = "dana@clinic.example"


def test_plan_preview_then_save(page: Page, site: Site, shot: Any) -> None:
    # Ana facilitates the seeded Tuesday group (18:00–19:30 from 2 March): a second group of
    # hers at 19:00 collides with it.
    group = site.api.group(name="Tuesday late IPT", opened=False, facilitator_ids=["t-ana"],
                           room_id="room-late")  # fmt: skip
    seeded = site.seeded["sessions"]
    sign_in(page, site, DANA)
    page.goto(site.url(f"/web/groups/{group['id']}"))
    page.get_by_role("link", name="Plan sessions").click()
    expect(page.get_by_role("heading", name="Plan sessions")).to_be_visible()
    assert_accessible(page)
    shot(page, "plan")
    page.get_by_label("First date").fill("2027-03-02")
    page.get_by_label("Start time (local)").fill("19:00")
    page.get_by_label("How often").select_option("weekly")
    page.get_by_label("Clinic closures (optional)").fill("2027-03-23")
    page.get_by_role("button", name="Preview").click()
    # The closure pushes the last session past the seeded course: 11 of 12 collide.
    expect(page.get_by_role("alert")).to_contain_text("Double booking: 11 collisions")
    expect(page.get_by_role("button", name="Save these 12 sessions")).to_have_count(0)
    link = page.get_by_role("link", name="session #1 of Tuesday evening IPT")
    expect(link).to_have_attribute("href", f"/web/sessions/{seeded[0]['id']}")
    expect(page.get_by_label("Start time (local)")).to_have_value("19:00")
    assert_accessible(page)
    shot(page, "plan-collisions")
    # Later that evening: no collision; the clock change and the closure are marked.
    page.get_by_label("Start time (local)").fill("20:00")
    page.get_by_role("button", name="Preview again").click()
    table = page.get_by_role("region", name="Sessions the plan would create")
    expect(table).to_contain_text("Clocks changed: EST → EDT")
    expect(table).to_contain_text("Pushed past closure Tue 23 Mar")
    expect(table).to_contain_text("20:00–21:30 EDT")
    assert_accessible(page)
    shot(page, "plan-preview")
    assert_fits(page)
    shot(page, "plan-preview-320")
    page.set_viewport_size({"width": 1280, "height": 800})
    save = page.get_by_role("button", name="Save these 12 sessions")
    save.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("12 sessions planned, from Tue 2 Mar 2027")
    expect(page.get_by_role("region", name="Sessions (12)")).to_contain_text("Tue 30 Mar 2027")
    sessions = api_json(site, f"/groups/{group['id']}/sessions")["items"]
    assert [s["starts_at"][11:16] for s in sessions] == ["20:00"] * 12


def test_enroll_intake_withdraw(page: Page, site: Site, shot: Any) -> None:
    group = site.api.group(name="Thursday pair IPT", facilitator_ids=["t-pia"], room_id="room-p",
                           max_size=2, min_size=2)  # fmt: skip
    site.api.plan(group["id"], first_date="2027-03-11", start_time="10:00", count=12)
    sign_in(page, site, DANA)
    page.goto(site.url(f"/web/groups/{group['id']}"))
    roster = page.get_by_role("region", name="Roster (0 of 2)")
    # From the keyboard: type, Tab, type, Enter.
    roster.get_by_label("Patient id").focus()
    page.keyboard.type("pp-1")
    page.keyboard.press("Tab")  # the hint between is not focusable
    expect(page.get_by_label("Patient name")).to_be_focused()
    page.keyboard.type("Ines Duarte")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Ines Duarte (pp-1) is enrolled: seat 1")
    for pid, name in [("pp-2", "Jon Berg"), ("pp-3", "Kai Ito")]:
        page.get_by_label("Patient id").fill(pid)
        page.get_by_label("Patient name").fill(name)
        page.get_by_role("button", name="Enroll").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Kai Ito (pp-3) is waitlisted, position 1: the group is full."
    )
    assert_accessible(page)
    shot(page, "roster")
    # A refusal: in words at the top, what was typed kept.
    page.get_by_label("Patient id").fill("pp-1")
    page.get_by_label("Patient name").fill("Ines again")
    page.get_by_role("button", name="Enroll").click()
    expect(page.get_by_role("alert")).to_contain_text("already enrolled")
    expect(page.get_by_label("Patient name")).to_have_value("Ines again")
    assert_accessible(page)
    shot(page, "enroll-refused")
    # Intake for Ines, from the refusal's link to her enrollment.
    page.get_by_role("link", name="Open this patient's enrollment").click()
    expect(page.get_by_role("heading", name="Ines Duarte")).to_be_visible()
    page.get_by_label("Primary problem area").select_option("grief")
    page.get_by_role("button", name="Record the intake").click()
    expect(page.locator("#intake-inventory-error")).to_be_visible()
    expect(page.get_by_label("Primary problem area")).to_have_value("grief")
    assert_accessible(page)
    shot(page, "intake-refused")
    page.get_by_label("The interpersonal inventory is done").check()
    page.get_by_role("button", name="Record the intake").click()
    expect(page.get_by_role("status")).to_contain_text("Intake recorded for Ines Duarte: grief")
    # Ines withdraws: Kai is promoted, and the page says so.
    page.get_by_role("link", name="Ines Duarte", exact=True).click()
    page.get_by_label("Why is the patient leaving?").fill("Moved away")
    assert_fits(page)
    shot(page, "enrollment-320")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_label("Why is the patient leaving?").press("Enter")
    expect(page.get_by_role("status")).to_contain_text(
        "Ines Duarte (pp-1) was withdrawn: Moved away. Kai Ito (pp-3) was promoted from the "
        "waitlist into the seat."
    )
    expect(page.get_by_role("region", name="Roster (2 of 2)")).to_contain_text("Kai Ito")
    assert_accessible(page)
    shot(page, "promoted")
    assert_fits(page)
    shot(page, "promoted-320")
    found = api_json(site, f"/groups/{group['id']}/enrollments")["items"]
    assert {e["patient_id"]: e["status"] for e in found} == {
        "pp-1": "withdrawn", "pp-2": "enrolled", "pp-3": "enrolled",
    }  # fmt: skip
