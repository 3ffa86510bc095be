"""Calendar links and guest approvals in a real browser (axe, keyboard, 320 px)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Site
from tests.browser.helpers import assert_accessible, assert_fits, sign_in

pytestmark = pytest.mark.browser
DANA = "dana@clinic.example"
ANA = "ana@clinic.example"


def _focus_by_tab(page: Page, target: Locator, presses: int = 40) -> None:
    """Tab through the page until ``target`` has the focus (keyboard only)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("e => e === document.activeElement"):
            return
    expect(target).to_be_focused()


def test_a_coordinator_hands_a_patient_their_calendar_link(
    page: Page, site: Site, shot: Any
) -> None:
    sign_in(page, site, DANA)
    page.get_by_role("link", name="Calendar links").click()
    expect(page.get_by_role("heading", name="Calendar links", exact=True)).to_be_visible()
    assert_accessible(page)
    shot(page, "start")

    # Pick the patient from their group's list.
    page.get_by_label("Group", exact=True).select_option(label="Tuesday evening IPT (open)")
    page.get_by_role("button", name="List its patients").click()
    page.get_by_role("link", name="Alex Moreno (p-1)").click()
    person = page.get_by_role("region", name=re.compile("Alex Moreno"))
    expect(person).to_contain_text("Tuesday evening IPT (enrolled)")
    expect(page.get_by_label("Patient or therapist id")).to_have_value("p-1")

    # Issued: shown once as the https link, webcal://, Google and a QR code.
    issue = person.get_by_role("button", name=re.compile("Issue"))
    _focus_by_tab(page, issue)
    page.keyboard.press("Enter")
    link = page.get_by_label("Subscription address (https)")
    expect(link).to_have_value(re.compile(r"/feeds/[A-Za-z0-9_-]{43}\.ics$"))
    expect(page.get_by_text("Shown once.")).to_be_visible()
    expect(page.get_by_role("img", name="QR code of the calendar link")).to_be_visible()
    url = link.input_value()
    expect(page.get_by_role("link", name="Subscribe with webcal://")).to_have_attribute(
        "href", "webcal://" + url.split("://", 1)[1]
    )
    expect(page.get_by_role("link", name="Add by URL in Google Calendar")).to_have_attribute(
        "href", re.compile(r"^https://calendar\.google\.com/calendar/r\?cid=webcal%3A%2F%2F")
    )
    feed = page.request.get(url)
    assert feed.status == 200 and "BEGIN:VCALENDAR" in feed.text()
    assert_accessible(page)
    shot(page, "issued")
    assert_fits(page)
    shot(page, "issued-320")
    page.set_viewport_size({"width": 1280, "height": 800})

    # Revoked: the link stops working at once.
    page.goto(site.url("/web/feed-links?kind=patient&id=p-1"))
    page.get_by_role("button", name="Revoke the link").click()
    expect(page.get_by_role("status")).to_contain_text("The calendar link was revoked")
    expect(page.get_by_role("region", name=re.compile("Alex Moreno"))).to_contain_text("revoked")
    assert page.request.get(url).status == 404
    shot(page, "revoked")


def test_a_mistyped_id_is_refused_in_words_beside_the_field(
    page: Page, site: Site, shot: Any
) -> None:
    sign_in(page, site, DANA)
    page.goto(site.url("/web/feed-links"))
    page.get_by_label("Patient or therapist id").fill("p-404")
    page.get_by_role("button", name="Show their link").click()
    person = page.get_by_role("region", name=re.compile("p-404"))
    expect(person).to_contain_text("Not enrolled or waitlisted in any group: check the id.")
    person.get_by_role("button", name="Issue a calendar link").click()
    expect(page.get_by_role("alert")).to_contain_text("has never been enrolled")
    field = page.get_by_label("Patient or therapist id")
    expect(field).to_have_value("p-404")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#subject-id-error")).to_have_text("Check this id.")
    expect(page.get_by_text("Shown once.")).to_have_count(0)
    assert_accessible(page)
    assert_fits(page)
    shot(page, "refused-320")


def test_a_therapist_approves_a_guest_and_takes_their_own_link(
    page: Page, site: Site, shot: Any
) -> None:
    session = site.seeded["sessions"][2]
    r = site.api.post(
        f"/sessions/{session['id']}/invitations",
        json={"patient_id": "p-2", "invitee_name": "Rosa Lindqvist", "relationship": "mother"},
    )
    assert r.status_code == 201, r.get_json()
    invitation = r.get_json()["id"]

    sign_in(page, site, ANA)
    page.get_by_role("link", name="Invitations").click()
    expect(page.get_by_role("heading", name="Guest invitations to approve")).to_be_visible()
    card = page.get_by_role("listitem").filter(has_text="Rosa Lindqvist")
    expect(card).to_contain_text("guest of Bea Lindqvist")
    expect(card).to_contain_text("Tuesday 16 March 2027, 18:00–19:30 EDT")
    assert_accessible(page)
    shot(page, "invitations")
    assert_fits(page)
    shot(page, "invitations-320")
    page.set_viewport_size({"width": 1280, "height": 800})
    approve = card.get_by_role("button", name=re.compile("^Approve Rosa Lindqvist"))
    _focus_by_tab(page, approve)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("You approved Rosa Lindqvist’s invitation")
    expect(page.get_by_text("Rosa Lindqvist", exact=False)).to_have_count(1)  # the notice only
    shown = site.api.get(f"/invitations/{invitation}").get_json()
    assert shown["status"] == "approved"

    page.get_by_role("link", name="My calendar link").click()
    expect(page.get_by_role("heading", name="My calendar link")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name=re.compile("Issue")).click()
    expect(page.get_by_role("img", name="QR code of the calendar link")).to_be_visible()
    url = page.get_by_label("Subscription address (https)").input_value()
    feed = page.request.get(url)
    assert feed.status == 200 and feed.text().count("BEGIN:VEVENT") >= 12
    assert_accessible(page)
    shot(page, "my-link")
    assert_fits(page)
    shot(page, "my-link-320")
