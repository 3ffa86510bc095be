"""What the browser tests do again and again: sign in, check a page with axe, measure width."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, Site

_axe = Axe()


def assert_accessible(page: Page) -> None:
    """axe-core (WCAG 2 A/AA and best practices) finds nothing on the page as it is now."""
    results = _axe.run(page)
    assert results.violations_count == 0, results.generate_report()


def assert_fits(page: Page, width: int = 320) -> None:
    """At ``width`` CSS pixels nothing needs a sideways scroll."""
    page.set_viewport_size({"width": width, "height": 800})
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll}px wide at a {width}px viewport"


def sign_in(page: Page, site: Site, email: str, password: str = PASSWORD) -> None:
    page.goto(site.url("/"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def api_json(site: Site, path: str, role: str = "coordinator") -> Any:
    r = site.api.get(path, role=role)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()
