"""An invitee in a real browser: open the private link, accept by keyboard alone, add the
session to a calendar; then the coordinator revokes on the session's page and the invitee's
page says so. axe-clean, readable at 320 px, nothing fetched from another host."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.browser.conftest import Site
from tests.browser.helpers import assert_accessible, assert_fits, sign_in
from tests.browser.test_feed_links import _focus_by_tab
from tests.feeds.test_feeds import path_of

pytestmark = pytest.mark.browser
DANA = "dana@clinic.example"
CONSENT = {"signed_by": "Bea Lindqvist", "signed_at": "2027-03-01T10:00:00-05:00",
           "document_ref": "scan-2027-0099"}  # fmt: skip


def _sent_invitation(site: Site, session_id: str) -> tuple[str, str]:
    """Bea's partner invited to a session of the seeded group, up to the link (JSON API)."""
    api = site.api
    r = api.post(f"/sessions/{session_id}/invitations",
                 json={"patient_id": "p-2", "invitee_name": "Noor Haddad",
                       "relationship": "partner"})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    iid = r.get_json()["id"]
    assert api.post(f"/invitations/{iid}/approve", role="therapist").status_code == 200
    assert api.post(f"/invitations/{iid}/consent", json=CONSENT).status_code == 200
    r = api.post(f"/invitations/{iid}/send")
    assert r.status_code == 200, r.get_json()
    return iid, site.url(path_of(r.get_json()["url"]))  # the API's client names localhost


def test_an_invitee_accepts_adds_to_calendar_then_sees_the_revocation(
    page: Page, browser: Browser, site: Site, shot: Any
) -> None:
    session = site.seeded["sessions"][4]  # Tuesday 30 March 2027, 18:00 New York
    iid, url = _sent_invitation(site, session["id"])
    elsewhere: list[str] = []

    def watch(request: Request) -> None:
        if not request.url.startswith((site.base, "data:")):
            elsewhere.append(request.url)

    page.on("request", watch)
    page.goto(url)
    expect(page.get_by_role("heading", name="Your invitation")).to_be_visible()
    expect(page.get_by_text("Tuesday 30 March 2027")).to_be_visible()
    expect(page.get_by_text("18:00–19:30 EDT")).to_be_visible()
    expect(page.get_by_role("heading", name="Group session")).to_be_visible()
    assert "Tuesday evening IPT" not in page.content() and "Bea" not in page.content()
    assert_accessible(page)
    shot(page, "invited")
    assert_fits(page)
    shot(page, "invited-320")

    # Keyboard alone: Tab to Accept, Enter.
    accept = page.get_by_role("button", name="Accept the invitation")
    _focus_by_tab(page, accept)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("You accepted this invitation.")
    expect(page.get_by_role("button", name="Accept the invitation")).to_have_count(0)
    assert page.url == url  # redirected back: a reload does not post again
    assert site.api.get(f"/invitations/{iid}").get_json()["status"] == "accepted"
    assert_accessible(page)
    shot(page, "accepted")

    # Add to calendar: the .ics downloads, the session confirmed in it.
    add = page.get_by_role("link", name="Add to calendar (.ics file)")
    _focus_by_tab(page, add)
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    saved = download.value.path()
    assert saved is not None
    ics = saved.read_text()
    assert "BEGIN:VEVENT" in ics and "STATUS:CONFIRMED" in ics and "DTSTART" in ics
    expect(page.get_by_role("link", name="Subscribe with webcal://")).to_have_attribute(
        "href", "webcal://" + url.split("://", 1)[1] + ".ics"
    )
    assert_fits(page)
    shot(page, "accepted-320")
    page.set_viewport_size({"width": 1280, "height": 800})

    # The coordinator revokes on the session's page (her own browser).
    context = browser.new_context()
    try:
        dana = context.new_page()
        sign_in(dana, site, DANA)
        dana.goto(site.url(f"/web/sessions/{session['id']}"))
        form = dana.get_by_role("form", name="Revoke the invitation of Noor Haddad")
        form.get_by_label("Why it is revoked").fill("The patient withdrew consent")
        form.get_by_role("button", name="Revoke").click()
        expect(dana.get_by_role("status")).to_contain_text("The invitation was revoked.")
    finally:
        context.close()

    page.reload()
    expect(page.get_by_role("status")).to_contain_text("This invitation was withdrawn.")
    expect(page.get_by_role("link", name="Add to calendar (.ics file)")).to_have_count(0)
    expect(page.get_by_role("button", name="Accept the invitation")).to_have_count(0)
    assert_accessible(page)
    shot(page, "revoked")
    assert_fits(page)
    shot(page, "revoked-320")
    assert elsewhere == []


def test_a_patients_link_page_and_an_unknown_link(page: Page, site: Site, shot: Any) -> None:
    r = site.api.post("/patients/p-3/feed-tokens")
    assert r.status_code == 201, r.get_json()
    page.goto(site.url(path_of(r.get_json()["url"]).removesuffix(".ics")))
    expect(page.get_by_role("heading", name="Your session calendar")).to_be_visible()
    apple = page.get_by_role("link", name="Add to Apple Calendar")
    expect(apple).to_have_attribute("href", re.compile(r"^webcal://127\.0\.0\.1:\d+/feeds/"))
    expect(page.get_by_role("link", name="Add to Google Calendar")).to_be_visible()
    expect(page.get_by_role("link", name="Add to Outlook")).to_be_visible()
    expect(page.get_by_text("Tuesday 9 March 2027, 18:00–19:30 EST")).to_be_visible()
    assert "Chidi" not in page.content() and "Tuesday evening IPT" not in page.content()
    _focus_by_tab(page, apple)
    assert_accessible(page)
    shot(page, "patient")
    assert_fits(page)
    shot(page, "patient-320")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(site.url("/i/" + "B" * 43))
    expect(page.get_by_role("heading", name="Link not found")).to_be_visible()
    assert_accessible(page)
    shot(page, "unknown")
