"""A billing month in a real browser: sign in as billing, last month's cost report, the claim
CSV downloaded, statements (on screen, printed and one as PDF) and month close — every total
the same as the JSON reports; axe-clean, keyboard only for the filters, readable at 320 px."""

from __future__ import annotations

import csv
import shutil
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, Site
from tests.browser.helpers import api_json, assert_accessible, assert_fits, sign_in
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.browser
BILL = "bill@clinic.example"
JUNE = "from=2027-06-01&to=2027-06-30"


def _june(site: Site) -> dict[str, Any]:
    """A June IPT group of its own (room, therapist) and one online maintenance group."""
    api = site.api
    api.clock.set(datetime(2027, 5, 1, 12, 0, tzinfo=UTC))
    ipt = api.group(name="June IPT", room_id="room-bill", facilitator_ids=["t-bill"], min_size=1)
    maint = api.group(
        name="Online maintenance", modality="maintenance", facilitator_ids=["t-bill-2"],
        format="online", room_id=None, video_url="https://video.example/june", currency="EUR",
        timezone="Europe/Berlin",
    )  # fmt: skip
    c = api.plan(ipt["id"], first_date="2027-06-01", count=12)
    m = api.plan(maint["id"], cadence="monthly", count=2, first_date="2027-06-03")
    for pid, name in [("jun-1", "Iris Vogel"), ("jun-2", "Omar Haddad")]:
        api.enroll(ipt["id"], pid, patient_name=name)
    api.enroll(maint["id"], "jun-1", patient_name="Iris Vogel")
    api.clock.set(datetime(2027, 7, 10, 15, 0, tzinfo=UTC))
    for sid, statuses in [
        (c[0]["id"], {"jun-1": "present", "jun-2": "absent"}),
        (c[1]["id"], {"jun-1": "late_cancel", "jun-2": "present"}),
        (m[0]["id"], {"jun-1": "present"}),
    ]:
        body = {"records": [{"patient_id": p, "status": s} for p, s in statuses.items()]}
        r = api.put(f"/sessions/{sid}/attendance", json=body)
        assert r.status_code == 200, r.get_json()
    return {"ipt": ipt, "maint": maint}


def _totals(body: dict[str, Any]) -> dict[str, str]:
    return {t["currency"]: t["total"] for t in body["totals"]}


def test_a_billing_month(page: Page, site: Site, shot: Any) -> None:
    saved = site.clock.now
    try:
        _walk(page, site, shot)
    finally:
        site.clock.set(saved)


def _walk(page: Page, site: Site, shot: Any) -> None:
    made = _june(site)
    site.app.extensions["circles"].storage.staff.create(
        BILL, "Bo Billing", "billing", PASSWORD, site.clock()
    )
    sign_in(page, site, BILL)
    expect(page.get_by_role("heading", name="Cost report")).to_be_visible()
    expect(page.get_by_label("From (session date)")).to_have_value("2027-06-01")
    report = api_json(site, f"/reports/costs?{JUNE}", role="billing")
    totals = page.locator("#totals")
    for currency, total in _totals(report).items():
        expect(totals.locator(f'tr[data-currency="{currency}"] td[data-total]')).to_have_attribute(
            "data-total", total
        )
    expect(totals.locator('tr[data-currency="EUR"] td[data-maintenance]')).to_have_attribute(
        "data-maintenance", "60.00"
    )
    assert_accessible(page)
    shot(page, "costs")
    assert_fits(page)
    shot(page, "costs-320")
    page.set_viewport_size({"width": 1280, "height": 900})

    # The claim CSV: one row per line, its June sums the report's totals.
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download the claim CSV").click()
    with open(downloading.value.path(), newline="") as downloaded:
        rows = list(csv.DictReader(downloaded))
    sums: dict[str, Decimal] = {}
    for row in rows:
        sums[row["currency"]] = sums.get(row["currency"], Decimal(0)) + Decimal(row["amount"])
    assert {c: str(v) for c, v in sums.items()} == _totals(report)
    mine = [r for r in rows if r["group_id"] == made["maint"]["id"]]
    assert [(r["place_of_service"], r["modifier"]) for r in mine] == [("telehealth", "95")]

    # Keyboard only: narrow the report to one therapist and send the form with Enter.
    page.get_by_label("Therapist id").focus()
    page.keyboard.type("t-bill")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Therapist id")).to_have_value("t-bill")
    only = api_json(site, f"/reports/costs?{JUNE}&therapist_id=t-bill", role="billing")
    assert _totals(only) == {"USD": "240.00"}  # 85 + 40 no-show, 30 late cancel + 85
    expect(page.locator('#totals tr[data-currency="USD"] td[data-total]')).to_have_attribute(
        "data-total", "240.00"
    )
    expect(page.locator('#totals tr[data-currency="EUR"]')).to_have_count(0)

    # Statements: each patient's totals are their JSON statement's; printed, one per page.
    page.get_by_role("link", name="Patient statements for this period").click()
    expect(page.get_by_role("heading", name="Patient statements")).to_be_visible()
    iris = page.locator('section[data-patient="jun-1"]')
    statement = api_json(site, f"/patients/jun-1/statement?{JUNE}", role="billing")
    for currency, total in _totals(statement).items():
        expect(iris.locator(f'tr[data-currency="{currency}"] td[data-total]')).to_have_attribute(
            "data-total", total
        )
    expect(iris).to_contain_text("90853-95")
    with page.expect_download() as downloading:
        iris.get_by_role("link", name="PDF of Iris Vogel’s statement").click()
    if shutil.which("pdftotext") is None:
        skip_or_fail("pdftotext is not installed (apt-get install poppler-utils)")
    text = subprocess.run(
        ["pdftotext", str(downloading.value.path()), "-"], capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    assert "Statement: Iris Vogel" in text
    for t in statement["totals"]:
        c = t["currency"]
        assert f"{c}: total {t['total']} {c}, maintenance subtotal" in text
    assert_accessible(page)
    shot(page, "statements")
    assert_fits(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Show statements")).to_be_hidden()
    shot(page, "statements-print")
    page.emulate_media(media="screen")

    # Month close: June's IPT sessions after the second were held with nothing recorded.
    page.goto(site.url(f"/web/billing/month-close?{JUNE}"))
    close = api_json(site, f"/reports/month-close?{JUNE}", role="billing")
    expect(page.locator("#unrecorded-count")).to_have_text(str(len(close["unrecorded"])))
    expect(page.locator("#unrecorded")).to_contain_text("June IPT")
    assert_accessible(page)
    assert_fits(page)
    shot(page, "month-close")
