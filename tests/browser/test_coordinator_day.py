"""A coordinator's day, walked through the real pages only (issue 13's browser-test bar).

Dana signs in, creates a group, previews and saves a plan that crosses the clocks going
back (7 November 2027, EDT → EST), opens it, enrolls 9 patients into 8 seats (the ninth is
waitlisted), starts the course, reschedules a session across the clock change and hands a
patient their calendar link. When session 1 has started, Ana (its therapist) signs in and
takes attendance, and Dana sees it on the group's and the session's pages.

Nothing goes through the JSON API: every step is a page. The API is only read afterwards to
check that what the pages said is what was stored. Each page is checked with axe and saved
as a screenshot (var/screenshots/test_a_coordinators_day-NN-what.png).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Site
from tests.browser.helpers import api_json, assert_accessible, assert_fits, sign_in, sign_out

pytestmark = pytest.mark.browser
DANA = "dana@clinic.example"
ANA = "ana@clinic.example"
# Monday 4 October 2027, 09:00 in New York: the course starts in two and a half weeks.
MORNING = datetime(2027, 10, 4, 13, 0, tzinfo=UTC)
# Thursday 21 October 2027, 17:40 EDT: session 1 (17:30 EDT) has just started.
SESSION_1_STARTED = datetime(2027, 10, 21, 21, 40, tzinfo=UTC)
PATIENTS = [
    ("day-1", "Amara Osei"), ("day-2", "Bruno Keller"), ("day-3", "Carmen Ruiz"),
    ("day-4", "Dmitri Volkov"), ("day-5", "Esther Cohen"), ("day-6", "Farid Haddad"),
    ("day-7", "Greta Nilsson"), ("day-8", "Hiro Tanaka"), ("day-9", "Ilse Brandt"),
]  # fmt: skip


@pytest.fixture
def clock_back(site: Site) -> Iterator[None]:
    """The test moves the shared server clock; the other tests find it where it was."""
    saved = site.clock.now
    yield
    site.clock.set(saved)


class Steps:
    """Check the page (axe) and save it as the next numbered screenshot."""

    def __init__(self, shot: Any) -> None:
        self.shot = shot
        self.count = 0

    def __call__(self, page: Page, what: str) -> None:
        assert_accessible(page)
        self.count += 1
        self.shot(page, f"{self.count:02d}-{what}")


@pytest.mark.usefixtures("clock_back")
def test_a_coordinators_day(page: Page, site: Site, shot: Any) -> None:
    step = Steps(shot)
    site.clock.set(MORNING)

    # Sign in: home is this week.
    sign_in(page, site, DANA)
    expect(page.get_by_role("heading", name="This week", exact=True)).to_be_visible()
    step(page, "week")

    # Create the group.
    page.get_by_role("link", name="Groups").click()
    step(page, "groups")
    page.get_by_role("link", name="New group").click()
    page.get_by_label("Name").fill("Thursday grief IPT")
    page.get_by_label("Focus (problem area)").select_option("grief")
    page.get_by_label("Therapists (ids)").fill("t-ana")
    page.get_by_label("Room", exact=True).fill("room-day")
    page.get_by_label("Session fee", exact=True).fill("90.00")
    for name in ("Maintenance session fee", "No-show fee", "Late-cancel fee"):
        page.get_by_label(name).fill("45.00")
    step(page, "new-group")
    page.get_by_role("button", name="Create the group").click()
    expect(page.get_by_role("status")).to_contain_text("“Thursday grief IPT” was created")
    expect(page.get_by_role("heading", name="Thursday grief IPT")).to_be_visible()
    group_id = page.url.rsplit("/", 1)[1]
    step(page, "created")

    # Preview a plan across the clocks going back, then save it.
    page.get_by_role("link", name="Plan sessions").click()
    page.get_by_label("First date").fill("2027-10-21")
    page.get_by_label("Start time (local)").fill("17:30")
    page.get_by_label("How many sessions").fill("12")
    page.get_by_role("button", name="Preview").click()
    table = page.get_by_role("region", name="Sessions the plan would create")
    expect(table).to_contain_text("17:30–19:00 EDT")
    expect(table).to_contain_text("Clocks changed: EDT → EST")
    expect(table).to_contain_text("17:30–19:00 EST")
    step(page, "plan-preview")
    assert_fits(page)
    step(page, "plan-preview-320")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("button", name="Save these 12 sessions").click()
    expect(page.get_by_role("status")).to_contain_text("12 sessions planned, from Thu 21 Oct 2027")
    sessions = page.get_by_role("region", name="Sessions (12)")
    expect(sessions).to_contain_text("Thu 6 Jan 2028")
    step(page, "planned")

    # Open it, enroll nine into eight seats: the ninth waits.
    page.get_by_role("button", name="Open for enrollment").click()
    expect(page.get_by_role("status")).to_contain_text("The group was opened for enrollment.")
    for pid, name in PATIENTS:
        page.get_by_label("Patient id").fill(pid)
        page.get_by_label("Patient name").fill(name)
        page.get_by_role("button", name="Enroll").click()
        expect(page.get_by_role("status")).to_contain_text(f"{name} ({pid}) is")
    expect(page.get_by_role("status")).to_contain_text(
        "Ilse Brandt (day-9) is waitlisted, position 1: the group is full."
    )
    expect(page.get_by_role("region", name="Roster (8 of 8)")).to_contain_text("Hiro Tanaka")
    step(page, "enrolled")

    # Start the course.
    page.get_by_role("button", name="Start the course").click()
    expect(page.get_by_role("status")).to_contain_text("The group was started.")
    step(page, "started")

    # Reschedule session 3 (Thu 4 Nov, EDT) to Monday 8 November, after the clock change.
    page.get_by_role("link", name="Session 3", exact=True).click()
    expect(page.get_by_text("Thursday 4 November 2027, 17:30–19:00 EDT")).to_be_visible()
    page.get_by_label("New start").fill("2027-11-08T17:30")
    page.get_by_label("Why it moves").fill("Room needed for an inspection")
    step(page, "session-3")
    page.get_by_role("button", name="Reschedule", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("The session was rescheduled")
    expect(page.get_by_text("Monday 8 November 2027, 17:30–19:00 EST")).to_be_visible()
    step(page, "rescheduled")

    # Hand Amara her calendar link, from the group's roster.
    page.get_by_role("link", name="Thursday grief IPT").first.click()
    page.get_by_role("link", name="Calendar link for Amara Osei").click()
    person = page.get_by_role("region", name=re.compile("Amara Osei"))
    expect(person).to_contain_text("Thursday grief IPT (enrolled)")
    person.get_by_role("button", name=re.compile("Issue")).click()
    expect(page.get_by_role("img", name="QR code of the calendar link")).to_be_visible()
    url = page.get_by_label("Subscription address (https)").input_value()
    feed = page.request.get(url).text()
    assert feed.count("BEGIN:VEVENT") == 12 and "20271108T173000" in feed
    step(page, "feed-link")
    assert_fits(page)
    step(page, "feed-link-320")
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_out(page)

    # Session 1 has started: Ana takes attendance.
    site.clock.set(SESSION_1_STARTED)
    sign_in(page, site, ANA)
    expect(page.get_by_text("17:30–19:00 EDT · Thursday grief IPT")).to_be_visible()
    step(page, "therapist-week")
    page.get_by_role("link", name=re.compile("Take attendance for Thursday grief IPT")).click()
    expect(page.get_by_role("heading", name="Attendance: Thursday grief IPT")).to_be_visible()
    expect(page.get_by_role("group")).to_have_count(8)  # the waitlisted Ilse is not on it
    for _, name in PATIENTS[:8]:
        status = "Absent (no-show)" if name == "Farid Haddad" else "Present"
        page.get_by_role("group", name=re.compile(name)).get_by_label(status, exact=True).check()
    step(page, "sheet")
    page.get_by_role("button", name="Save attendance").click()
    expect(page.get_by_role("status")).to_contain_text("Attendance saved: 8 changes.")
    step(page, "sheet-saved")
    sign_out(page)

    # Dana sees it: on the group page, then the session page.
    sign_in(page, site, DANA)
    page.goto(site.url(f"/web/groups/{group_id}"))
    first_row = page.get_by_role("region", name="Table of sessions").get_by_role("row").nth(1)
    expect(first_row).to_contain_text("In progress")
    expect(first_row).to_contain_text("7 of 8 came")
    step(page, "group-after")
    page.get_by_role("link", name="Session 1", exact=True).click()
    roster = page.get_by_role("region", name="Roster")
    expect(roster).to_contain_text("Farid Haddad")
    expect(roster.get_by_role("listitem").filter(has_text="Farid Haddad")).to_contain_text(
        "Absent (no-show)"
    )
    expect(roster.get_by_role("listitem").filter(has_text="Amara Osei")).to_contain_text("Present")
    expect(page.get_by_text("can no longer be moved or cancelled")).to_be_visible()
    expect(page.get_by_role("button", name="Reschedule", exact=True)).to_have_count(0)
    step(page, "session-1-after")

    # What the pages said is what was stored.
    shown = api_json(site, f"/groups/{group_id}")
    assert shown["status"] == "running"
    stored = api_json(site, f"/groups/{group_id}/sessions")["items"]
    first = api_json(site, f"/sessions/{stored[0]['id']}")
    by_id = {a["patient_id"]: a["status"] for a in first["attendance"]}
    assert by_id == {pid: ("absent" if pid == "day-6" else "present") for pid, _ in PATIENTS[:8]}
    assert stored[2]["starts_at"] == "2027-11-08T17:30:00-05:00"
