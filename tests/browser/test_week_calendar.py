"""The week calendar in a real browser: rooms and therapists, a week the clocks change, the
week picker, a refused week, the keyboard and a 320 px screen."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Site
from tests.browser.helpers import assert_accessible, assert_fits, sign_in

pytestmark = pytest.mark.browser
DANA = "dana@clinic.example"


def _sunday_group(site: Site) -> dict[str, Any]:
    """Sundays 10:00 New York in room-cal with t-cal, from 7 March 2027: the second session
    falls on the day the clocks go forward."""
    group = site.api.group(
        name="Sunday calendar MIT", modality="mit", facilitator_ids=["t-cal"], room_id="room-cal"
    )
    sessions = site.api.plan(group["id"], first_date="2027-03-07", start_time="10:00", count=12)
    return {"group": group, "sessions": sessions}


def test_week_calendar_rooms_therapists_and_a_clock_change(
    page: Page, site: Site, shot: Any
) -> None:
    made = _sunday_group(site)
    sign_in(page, site, DANA)
    page.get_by_role("link", name="Week calendar").click()
    expect(page.get_by_role("heading", name="Week calendar: rooms")).to_be_visible()
    grid = page.get_by_role("table", name="Rooms, week 2027-W09")
    expect(grid.get_by_role("columnheader", name="room-cal")).to_be_visible()
    tuesday = grid.get_by_role("row", name="Tue 2 Mar")
    expect(tuesday).to_contain_text("18:00–19:30 EST")
    expect(tuesday).to_contain_text("Tuesday evening IPT")
    expect(tuesday).to_contain_text("Free 08:00–18:00, 19:30–20:00")
    assert_accessible(page)
    shot(page, "rooms")

    page.get_by_role("link", name="Next week →").click()
    grid = page.get_by_role("table", name="Rooms, week 2027-W10")
    sunday = grid.get_by_role("row", name="Sun 14 Mar")
    expect(sunday).to_contain_text("Clocks go forward: EST to EDT")
    expect(sunday).to_contain_text("10:00–11:30 EDT")
    expect(sunday).to_contain_text("Free 08:00–10:00, 11:30–20:00")
    session = sunday.get_by_role("link", name="session 2 of Sunday calendar MIT, Sun 14 Mar")
    expect(session).to_have_attribute("href", f"/web/sessions/{made['sessions'][1]['id']}")
    assert_accessible(page)
    shot(page, "dst-week")

    # Keyboard only: to the therapists' view of the same week.
    therapists = page.get_by_role("link", name="Therapists", exact=True)
    for _ in range(20):
        page.keyboard.press("Tab")
        if therapists.evaluate("e => e === document.activeElement"):
            break
    expect(therapists).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Week calendar: therapists")).to_be_visible()
    grid = page.get_by_role("table", name="Therapists, week 2027-W10")
    expect(grid.get_by_role("columnheader", name="Ana Silva (t-ana)")).to_be_visible()
    expect(grid.get_by_role("row", name="Sun 14 Mar")).to_contain_text("room-cal")
    assert_accessible(page)
    shot(page, "therapists")

    # The week picker: another week, the view kept.
    page.get_by_label("Week", exact=True).fill("2027-W11")
    page.get_by_role("button", name="Show the week").click()
    expect(page.get_by_role("table", name="Therapists, week 2027-W11")).to_be_visible()
    expect(page.get_by_role("row", name="Tue 16 Mar")).to_contain_text("18:00–19:30 EDT")

    # On a phone: each day a list, nothing to scroll sideways.
    page.goto(site.url("/web/calendar?week=2027-W10&by=room"))
    assert_fits(page)
    assert_accessible(page)
    shot(page, "rooms-320")


def test_a_refused_week_is_a_page_in_words(page: Page, site: Site, shot: Any) -> None:
    sign_in(page, site, DANA)
    response = page.goto(site.url("/web/calendar?week=2027-W54"))
    assert response is not None and response.status == 422
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("This calendar cannot be shown")
    expect(alert).to_contain_text("2027 has weeks 01 to 52, not 54.")
    assert_accessible(page)
    shot(page, "refused")
    page.get_by_role("link", name="Show this week’s rooms").click()
    expect(page.get_by_role("table", name="Rooms, week 2027-W09")).to_be_visible()
