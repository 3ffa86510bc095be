"""Staff pages in a real browser: sign-in, its refusals, the admin page, and attendance."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, Site
from tests.browser.helpers import api_json, assert_accessible, assert_fits, sign_in, sign_out

pytestmark = pytest.mark.browser


def test_keyboard_only_sign_in_and_out(page: Page, site: Site, shot: Any) -> None:
    page.goto(site.url("/"))
    assert_accessible(page)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    shot(page, "skip-link")
    page.keyboard.press("Enter")  # to the main content, past the header
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email address")).to_be_focused()
    page.keyboard.type("dana@clinic.example")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="This week")).to_be_visible()
    assert page.url == site.url("/home")
    assert_accessible(page)
    shot(page, "home")
    assert_fits(page)
    shot(page, "home-320")
    cookie = next(c for c in page.context.cookies() if c["name"] == "circles_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    sign_out(page)
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(site.url("/home"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_wrong_password_and_throttling(page: Page, site: Site, shot: Any) -> None:
    site.app.extensions["circles"].storage.staff.create(
        "tom@clinic.example", "Tom", "billing", PASSWORD, site.clock()
    )
    sign_in(page, site, "tom@clinic.example", "not my password")
    expect(page.get_by_role("alert")).to_contain_text("do not match an active account")
    expect(page.get_by_label("Email address")).to_have_value("tom@clinic.example")
    assert_accessible(page)
    assert_fits(page)
    shot(page, "wrong-password")
    for _ in range(4):
        sign_in(page, site, "tom@clinic.example", "still wrong")
    sign_in(page, site, "tom@clinic.example")  # the right password, too late
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins. Wait 15 minutes")
    shot(page, "throttled")


def test_idle_sign_out(page: Page, site: Site, shot: Any) -> None:
    sign_in(page, site, "dana@clinic.example")
    expect(page.get_by_role("heading", name="This week")).to_be_visible()
    site.clock.advance(minutes=16)
    page.reload()
    expect(page.get_by_role("status")).to_contain_text("signed out after a time without activity")
    assert_accessible(page)
    shot(page, "idle")


def test_a_forged_form_is_refused(page: Page, site: Site, shot: Any) -> None:
    sign_in(page, site, "dana@clinic.example")
    expect(page.get_by_role("heading", name="This week")).to_be_visible()
    page.locator("form.signout input[name=csrf_token]").evaluate("e => e.value = 'forged'")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="The form could not be accepted")).to_be_visible()
    assert_accessible(page)
    shot(page, "csrf-refused")
    page.goto(site.url("/home"))  # still signed in: the forged sign-out did nothing
    expect(page.get_by_role("heading", name="This week")).to_be_visible()


def test_turning_on_sign_in_codes(page: Page, site: Site, shot: Any) -> None:
    staff = site.app.extensions["circles"].storage.staff
    staff.create("kim@clinic.example", "Kim Lee", "coordinator", PASSWORD, site.clock())
    sign_in(page, site, "kim@clinic.example")
    page.get_by_role("link", name="My account").click()
    page.get_by_role("link", name="Turn sign-in codes on").click()
    secret = page.locator("#secret-key").inner_text().replace(" ", "")
    assert_accessible(page)
    shot(page, "totp-setup")
    assert_fits(page)
    shot(page, "totp-setup-320")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).at(site.clock()))
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("status")).to_contain_text("asks for a code")
    sign_out(page)
    sign_in(page, site, "kim@clinic.example")
    expect(page.get_by_role("heading", name="Sign-in code")).to_be_visible()
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    assert_accessible(page)
    shot(page, "totp-wrong")
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(site.clock()))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="This week", exact=True)).to_be_visible()  # home


def test_admin_creates_disables_and_resets(page: Page, site: Site, shot: Any) -> None:
    sign_in(page, site, "admin@clinic.example")
    expect(page.get_by_role("heading", name="Staff accounts")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Name").fill("Noor Haddad")
    page.get_by_label("Email address").fill("noor@clinic.example")
    page.get_by_label("therapist", exact=True).check()
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("needs the clinic's therapist id")
    expect(page.get_by_label("Name")).to_have_value("Noor Haddad")  # nothing typed is lost
    assert_accessible(page)
    shot(page, "create-error")
    page.get_by_label("Therapist id").fill("t-noor")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Account created")).to_be_visible()
    first = page.locator("#one-time-password").inner_text()
    assert_accessible(page)
    shot(page, "created")

    noor = page.context.browser.new_context()  # type: ignore[union-attr]
    other = noor.new_page()
    sign_in(other, site, "noor@clinic.example", first)
    expect(other.get_by_text("Choose your own password")).to_be_visible()
    other.get_by_label("Current password").fill(first)
    other.get_by_label("New password (at least 12 characters)").fill("noor's own passphrase")
    other.get_by_label("New password again").fill("noor's own passphrase")
    other.get_by_role("button", name="Change password").click()
    expect(other.get_by_role("status")).to_contain_text("Your password is changed")
    shot(other, "password-changed")

    page.get_by_role("link", name="Back to staff accounts").click()
    page.get_by_role("button", name="Disable Noor Haddad").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Noor Haddad (noor@clinic.example) is disabled"
    )
    assert_fits(page)
    shot(page, "disabled-320")
    other.reload()
    expect(other.get_by_role("heading", name="Sign in")).to_be_visible()  # signed out at once
    page.set_viewport_size({"width": 1024, "height": 800})
    page.get_by_role("button", name="Enable Noor Haddad").click()
    page.get_by_role("button", name="Reset the password of Noor Haddad").click()
    second = page.locator("#one-time-password").inner_text()
    assert second != first
    sign_in(other, site, "noor@clinic.example", "noor's own passphrase")
    expect(other.get_by_role("alert")).to_contain_text("do not match")
    sign_in(other, site, "noor@clinic.example", second)
    expect(other.get_by_text("Choose your own password")).to_be_visible()
    noor.close()


def test_therapist_takes_attendance_and_the_api_shows_it(page: Page, site: Site, shot: Any) -> None:
    session = site.seeded["sessions"][0]
    names = site.seeded["names"]
    sign_in(page, site, "ana@clinic.example")
    expect(page.get_by_role("heading", name=re.compile("My sessions"))).to_be_visible()
    expect(page.get_by_text("18:00–19:30 EST · Tuesday evening IPT")).to_be_visible()
    assert_accessible(page)
    shot(page, "week")
    assert_fits(page)
    shot(page, "week-320")
    page.set_viewport_size({"width": 1024, "height": 800})

    page.get_by_role("link", name=re.compile("Take attendance for Tuesday evening IPT")).click()
    expect(page.get_by_role("heading", name="Attendance: Tuesday evening IPT")).to_be_visible()
    assert_accessible(page)
    shot(page, "sheet")
    choices = {
        "Alex Moreno": "Present",
        "Bea Lindqvist": "Absent (no-show)",
        "Chidi Okafor": "Late",
        "Dana Kowalski-Featherstonehaugh": "Excused (cancelled ahead)",
    }
    for name, label in choices.items():
        person = page.get_by_role("group", name=re.compile(name))
        person.get_by_label(label, exact=True).check()
    page.get_by_role("button", name="Save attendance").click()
    expect(page.get_by_role("status")).to_contain_text("Attendance saved: 4 changes.")
    expect(page.get_by_role("group", name=re.compile("Bea Lindqvist"))).to_contain_text(
        "Recorded: Absent (no-show)"
    )
    assert_accessible(page)
    shot(page, "sheet-saved")
    assert_fits(page)
    shot(page, "sheet-320")

    shown = api_json(site, f"/sessions/{session['id']}")
    by_id = {a["patient_id"]: a["status"] for a in shown["attendance"]}
    assert by_id == {"p-1": "present", "p-2": "absent", "p-3": "late", "p-4": "excused"}
    assert names["p-1"] == "Alex Moreno"
    history = api_json(site, f"/sessions/{session['id']}/history")["items"]
    actors = {e["actor"] for e in history if e["type"] == "TherapySession.AttendanceRecorded"}
    assert actors == {"Ana Silva <therapist ana@clinic.example>"}

    # A correction while someone else saved meanwhile: refused in words, nothing lost.
    page.set_viewport_size({"width": 1024, "height": 800})
    bea = page.get_by_role("group", name=re.compile("Bea Lindqvist"))
    bea.get_by_label("Late cancel", exact=True).check()
    r = site.api.put(f"/sessions/{session['id']}/attendance",
                     json={"records": [{"patient_id": "p-3", "status": "present"}]})  # fmt: skip
    assert r.status_code == 200
    page.get_by_role("button", name="Save attendance").click()
    expect(page.get_by_role("alert")).to_contain_text("Changed since you read it")
    expect(bea.get_by_label("Late cancel", exact=True)).to_be_checked()
    expect(page.get_by_role("group", name=re.compile("Chidi Okafor"))).to_contain_text(
        "Recorded: Present"
    )
    assert_accessible(page)
    shot(page, "sheet-stale")
    page.get_by_role("button", name="Save attendance").click()  # the same choices again
    expect(page.get_by_role("status")).to_contain_text("Attendance saved: 1 change.")
    shown = api_json(site, f"/sessions/{session['id']}")
    by_id = {a["patient_id"]: a["status"] for a in shown["attendance"]}
    assert by_id == {"p-1": "present", "p-2": "late_cancel", "p-3": "present", "p-4": "excused"}
