"""A session's page in a real browser: a collision refused with its link, a reschedule, the
invitation from proposal to the invitee's link (the facilitator approving on the same page),
a cancellation by keyboard alone and its make-up; axe-clean and readable at 320 px."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Site
from tests.browser.helpers import (
    api_json,
    assert_accessible,
    assert_fits,
    sign_in,
    sign_out,
)

pytestmark = pytest.mark.browser
DANA = "dana@clinic.example"
ANA = "ana@clinic.example"


def _saturday_group(site: Site, hour: str) -> dict[str, Any]:
    """Ana's Saturday-morning IPT (its own room and hour: no other test's sessions)."""
    api = site.api
    group = api.group(name="Saturday morning IPT", room_id=f"room-sat-{hour}")
    sessions = api.plan(group["id"], first_date="2027-03-06", start_time=hour, count=12)
    for pid, who in [("sat-1", "Ines Duarte"), ("sat-2", "Jon Berg")]:
        api.enroll(group["id"], f"{pid}-{hour}", patient_name=who)
    return {"group": group, "sessions": sessions}


def test_a_coordinators_session_page(page: Page, site: Site, shot: Any) -> None:
    made = _saturday_group(site, "07:00")
    second, third = made["sessions"][1], made["sessions"][2]
    sign_in(page, site, DANA)
    page.goto(site.url(f"/web/groups/{made['group']['id']}"))
    page.get_by_role("link", name="Session 2", exact=True).click()
    expect(page.get_by_role("heading", name="Session 2: Saturday morning IPT")).to_be_visible()
    expect(page.get_by_text("Saturday 13 March 2027, 07:00–08:30 EST")).to_be_visible()
    expect(page.get_by_role("heading", name="Guests (0 of 2 places taken)")).to_be_visible()
    roster = page.get_by_role("region", name="Roster")
    expect(roster).to_contain_text("Ines Duarte")
    expect(roster).to_contain_text("Jon Berg")
    assert_accessible(page)
    shot(page, "session")

    # Onto session 3: refused, the collision named and linked, what was typed kept.
    page.get_by_label("New start").fill("2027-03-20T07:30")
    page.get_by_label("Why it moves").fill("Room repainted")
    page.get_by_role("button", name="Reschedule", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Double booking")
    expect(page.get_by_label("Why it moves")).to_have_value("Room repainted")
    expect(page.get_by_label("New start")).to_have_value("2027-03-20T07:30")
    assert_accessible(page)
    shot(page, "collision")
    page.get_by_role("link", name="Open the session it collides with").click()
    expect(page.get_by_role("heading", name="Session 3: Saturday morning IPT")).to_be_visible()
    assert page.url == site.url(f"/web/sessions/{third['id']}")
    page.goto(site.url(f"/web/sessions/{second['id']}"))
    # A time that works, across the clocks going forward: local wall-clock time.
    page.get_by_label("New start").fill("2027-03-14T08:00")
    page.get_by_label("Why it moves").fill("Room repainted")
    page.get_by_role("button", name="Reschedule", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("The session was rescheduled")
    expect(page.get_by_text("Sunday 14 March 2027, 08:00–09:30 EDT")).to_be_visible()
    assert api_json(site, f"/sessions/{second['id']}")["starts_at"] == "2027-03-14T08:00:00-04:00"

    # Propose a guest.
    page.get_by_label("Guest of").select_option("sat-1-07:00")
    page.get_by_label("Invitee name").fill("Sam Rivera")
    page.get_by_label("Relationship").fill("spouse")
    page.get_by_label("Invitee email").fill("sam@example.org")
    page.get_by_role("button", name="Propose the invitation").click()
    expect(page.get_by_role("status")).to_contain_text("The invitation of Sam Rivera was proposed")
    expect(page.get_by_role("heading", name="Guests (1 of 2 places taken)")).to_be_visible()
    expect(page.get_by_text("waiting for a facilitator's approval")).to_be_visible()
    sign_out(page)

    # Ana, who facilitates the group, approves on the same page (read-only otherwise).
    sign_in(page, site, ANA)
    page.goto(site.url(f"/web/sessions/{second['id']}"))
    expect(page.get_by_role("button", name="Reschedule", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="Roster to take attendance")).to_be_visible()
    assert_accessible(page)
    shot(page, "therapist")
    page.get_by_role("button", name="Approve the invitation of Sam Rivera").click()
    expect(page.get_by_role("status")).to_contain_text("The invitation approved.")
    sign_out(page)

    # Dana records the patient's consent and sends: the link shown once.
    sign_in(page, site, DANA)
    page.goto(site.url(f"/web/sessions/{second['id']}"))
    page.get_by_label("Signed by").fill("Ines Duarte")
    page.get_by_label("Signed at").fill("2027-03-01T10:00")
    page.get_by_label("Document reference").fill("scan-2027-0042")
    page.get_by_role("button", name="Record consent").click()
    expect(page.get_by_text("Consent recorded: ready to send")).to_be_visible()
    page.get_by_role("button", name="Send the invitation to Sam Rivera").click()
    link = page.get_by_role("region", name="The invitee's private link").get_by_role("link")
    expect(link).to_contain_text("/i/")
    assert_accessible(page)
    shot(page, "sent")
    assert_fits(page)
    shot(page, "sent-320")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.reload()  # a reload re-sends the form: refused, and the link is not shown again
    expect(page.get_by_role("alert")).to_contain_text("Changed since you read it")
    expect(page.get_by_role("region", name="The invitee's private link")).to_have_count(0)


def test_cancel_by_keyboard_then_a_make_up(page: Page, site: Site, shot: Any) -> None:
    made = _saturday_group(site, "09:00")
    fifth = made["sessions"][4]
    sign_in(page, site, DANA)
    page.goto(site.url(f"/web/sessions/{fifth['id']}"))
    reason = page.get_by_label("Why it is cancelled")
    for _ in range(40):
        page.keyboard.press("Tab")
        if reason.evaluate("e => e === document.activeElement"):
            break
    expect(reason).to_be_focused()
    page.keyboard.type("Therapist ill")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Cancel the session")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("The session was cancelled")
    expect(page.get_by_role("heading", name="Schedule a make-up session")).to_be_visible()
    assert_accessible(page)
    shot(page, "cancelled")
    page.get_by_label("Start", exact=True).fill("2027-04-05T09:00")
    page.get_by_label("Length in minutes").fill("60")
    page.get_by_role("button", name="Add the make-up session").click()
    expect(page.get_by_role("status")).to_contain_text("was added for session 5")
    expect(page.get_by_text("Monday 5 April 2027, 09:00–10:00 EDT")).to_be_visible()
    page.get_by_role("link", name="session 5", exact=True).click()
    expect(page.get_by_role("heading", name="Session 5: Saturday morning IPT")).to_be_visible()
    expect(page.get_by_text("has its make-up session")).to_be_visible()
    assert_fits(page)
    shot(page, "cancelled-320")
