"""A coordinator's pages in a real browser: this week, the group list, a group's page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Site
from tests.browser.helpers import api_json, assert_accessible, assert_fits, sign_in

pytestmark = pytest.mark.browser
DANA = "dana@clinic.example"


def _waitlisted_group(site: Site, name: str, therapist: str) -> dict[str, Any]:
    """An open MIT group of 2 seats with a third patient waiting, meeting Wednesdays."""
    api = site.api
    group = api.group(
        name=name, modality="mit", facilitator_ids=[therapist], room_id=f"room-{therapist}",
        max_size=2, min_size=2,
    )  # fmt: skip
    api.plan(group["id"], first_date="2027-03-03", start_time="09:30", count=12)
    for pid, who in [("1", "Eli Park"), ("2", "Fay Nguyen"), ("3", "Gus Olsen")]:
        api.enroll(group["id"], f"{therapist}-{pid}", patient_name=who)
    return group


def test_this_week_and_what_needs_attention(page: Page, site: Site, shot: Any) -> None:
    group = _waitlisted_group(site, "Wednesday morning MIT", "t-zed")
    sign_in(page, site, DANA)
    expect(page.get_by_role("heading", name="This week", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="This week", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    sessions = page.get_by_role("region", name="Tuesday 2 March")
    expect(sessions).to_contain_text("18:00–19:30 EST")
    expect(sessions).to_contain_text("Ana Silva (t-ana)")
    expect(sessions).to_contain_text("4 of 8 taken")
    attention = page.get_by_role("region", name="Needs attention")
    expect(attention).to_contain_text("Wednesday morning MIT: 1 waiting")
    assert_accessible(page)
    shot(page, "week")
    # Keyboard only: from the skip link to the waitlisted group's page.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    link = attention.get_by_role("link", name="Wednesday morning MIT")
    for _ in range(30):
        page.keyboard.press("Tab")
        if link.evaluate("e => e === document.activeElement"):
            break
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Wednesday morning MIT")).to_be_visible()
    assert page.url == site.url(f"/web/groups/{group['id']}")
    page.go_back()
    page.get_by_role("link", name="Next week →").click()
    expect(page.get_by_role("heading", name="The week of 8 March")).to_be_visible()
    assert_fits(page)
    shot(page, "week-320")


def test_group_list_filters(page: Page, site: Site, shot: Any) -> None:
    _waitlisted_group(site, "Filtered MIT", "t-lou")
    sign_in(page, site, DANA)
    page.get_by_role("link", name="Groups").click()
    expect(page.get_by_role("heading", name="Groups", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Tuesday evening IPT")).to_be_visible()
    assert_accessible(page)
    shot(page, "list")
    page.get_by_label("Modality").select_option("mit")
    page.get_by_label("Status").select_option("open")
    page.get_by_role("button", name="Show groups").click()
    expect(page.get_by_role("link", name="Filtered MIT")).to_be_visible()
    expect(page.get_by_role("link", name="Tuesday evening IPT")).to_have_count(0)
    expect(page.get_by_label("Modality")).to_have_value("mit")
    # A refused filter is shown in words beside its field, what was typed kept.
    page.get_by_label("Therapist id").fill("not an id!")
    page.get_by_label("Therapist id").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("invalid fields")
    expect(page.locator("#therapist_id-error")).to_be_visible()
    expect(page.get_by_label("Therapist id")).to_have_value("not an id!")
    assert_accessible(page)
    shot(page, "list-refused")
    assert_fits(page)
    shot(page, "list-320")


def test_group_page_lifecycle_from_the_keyboard(page: Page, site: Site, shot: Any) -> None:
    planned = site.api.group(name="Autumn IPT", opened=False, facilitator_ids=["t-kim"],
                             room_id="room-7")  # fmt: skip
    site.api.plan(planned["id"], first_date="2027-09-07", count=12)
    sign_in(page, site, DANA)
    page.goto(site.url(f"/web/groups/{planned['id']}"))
    expect(page.get_by_role("heading", name="Autumn IPT")).to_be_visible()
    expect(page.get_by_role("region", name="Sessions (12)")).to_contain_text("Tue 7 Sep 2027")
    assert_accessible(page)
    shot(page, "group")
    button = page.get_by_role("button", name="Open for enrollment")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("The group was opened for enrollment.")
    assert api_json(site, f"/groups/{planned['id']}")["status"] == "open"
    # Starting with nobody enrolled is refused, in the words the JSON API uses.
    page.get_by_role("button", name="Start the course").click()
    expect(page.get_by_role("alert")).to_contain_text("needs at least 4 enrolled patients")
    # Cancelling needs a reason; the refusal sits beside the field.
    page.get_by_role("button", name="Cancel the group").click()
    expect(page.locator("#cancel-reason-error")).to_be_visible()
    assert_accessible(page)
    shot(page, "group-refused")
    page.get_by_label("Why is the group cancelled?").fill("Too few referrals")
    page.get_by_label("Why is the group cancelled?").press("Enter")
    expect(page.get_by_role("status")).to_contain_text("The group was cancelled.")
    history = page.get_by_role("region", name="History")
    expect(history).to_contain_text("Reason: Too few referrals")
    expect(history).to_contain_text("by Dana Reyes <coordinator dana@clinic.example>")
    assert api_json(site, f"/groups/{planned['id']}")["status"] == "cancelled"
    assert_accessible(page)
    shot(page, "group-cancelled")
    assert_fits(page)
    shot(page, "group-320")
    assert re.search(r"cancelled", page.content())


def test_create_a_group(page: Page, site: Site, shot: Any) -> None:
    sign_in(page, site, DANA)
    page.get_by_role("link", name="Groups").click()
    page.get_by_role("link", name="New group").click()
    expect(page.get_by_role("heading", name="New group")).to_be_visible()
    assert_accessible(page)
    shot(page, "create")
    page.get_by_label("Name").fill("Friday role transitions")
    page.get_by_label("Focus (problem area)").select_option("role_transition")
    page.get_by_label("Therapists (ids)").fill("t-bo")
    page.get_by_label("Room", exact=True).fill("room-5")
    page.get_by_label("Most patients (capacity)").fill("eight")
    page.get_by_label("Session fee", exact=True).fill("85")
    page.get_by_role("button", name="Create the group").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("#max_size-error")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("Friday role transitions")
    expect(page.get_by_label("Focus (problem area)")).to_have_value("role_transition")
    assert_accessible(page)
    shot(page, "create-refused")
    assert_fits(page)
    shot(page, "create-320")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_label("Most patients (capacity)").fill("8")
    for name in ("Maintenance session fee", "No-show fee", "Late-cancel fee"):
        page.get_by_label(name).fill("40.00")
    page.get_by_label("Session fee", exact=True).fill("85.00")
    page.get_by_label("Session fee", exact=True).press("Enter")
    expect(page.get_by_role("status")).to_contain_text("“Friday role transitions” was created")
    expect(page.get_by_role("heading", name="Friday role transitions")).to_be_visible()
    gid = page.url.rsplit("/", 1)[1]
    shown = api_json(site, f"/groups/{gid}")
    assert shown["focus_area"] == "role_transition" and shown["facilitator_ids"] == ["t-bo"]
    assert shown["fees"]["session_fee"] == "85.00"
