"""Billing's pages: the cost report, claim CSV, month close and statements show exactly the
numbers of the JSON reports (GET /reports/costs, /reports/claims, /patients/{id}/statement)."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from service.web.statement_pdf import statements_pdf
from tests.browser.conftest import SHOTS
from tests.conftest import skip_or_fail
from tests.service.test_attendance_rules import attend
from tests.web.conftest import Site

APRIL = "from=2027-04-01&to=2027-04-30"


def clinic(site: Site) -> dict[str, Any]:
    """An in-person USD IPT group with two patients and an online EUR maintenance group;
    April has a present, a no-show, an excused line, maintenance lines and one session
    held without attendance."""
    api = site.api
    usd = api.group(name="Tuesday IPT", min_size=1)["id"]
    eur = api.group(
        name="Online maintenance", modality="maintenance", facilitator_ids=["t-bo"],
        format="online", room_id=None, video_url="https://video.example/m",
        timezone="Europe/Berlin", currency="EUR",
    )["id"]  # fmt: skip
    c = api.plan(usd)
    m = api.plan(eur, cadence="monthly", count=3, first_date="2027-03-04")
    for pid in ("p-1", "p-2"):
        api.enroll(usd, pid, patient_name=f"Patient {pid}")
    api.enroll(eur, "p-1", patient_name="Patient p-1")
    api.clock.set(datetime(2027, 5, 10, 12, 0, tzinfo=UTC))
    attend(api, c[0]["id"], p_1="present", p_2="present")  # 2 March
    attend(api, c[5]["id"], p_1="present", p_2="absent")  # 6 April
    attend(api, c[6]["id"], p_1="excused", p_2="late")  # 13 April
    attend(api, m[1]["id"], p_1="present")  # 4 April, EUR maintenance
    # c[7] (20 April) and later were held with no attendance taken.
    return {"usd": usd, "eur": eur, "c": c, "m": m}


def _json(site: Site, path: str) -> Any:
    r = site.api.get(path, role="billing")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _shown_totals(page: str, table_id: str = "totals") -> dict[str, tuple[str, str]]:
    if f'id="{table_id}"' not in page:
        assert "No charge lines in this period." in page
        return {}
    table = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r'data-currency="(\w+)".*?data-total="([\d.]+)".*?data-maintenance="([\d.]+)"', table, re.S
    )
    return {cur: (total, maint) for cur, total, maint in rows}


def _json_totals(body: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {t["currency"]: (t["total"], t["maintenance_subtotal"]) for t in body["totals"]}


def test_cost_report_page_shows_the_json_totals_and_defaults_to_last_month(site: Site) -> None:
    site.user("bill@clinic.example", "billing")
    clinic(site)
    browser = site.signed_in("bill@clinic.example")
    page = browser.text("/web/billing/costs")  # today is 10 May: last month is April
    assert 'value="2027-04-01"' in page and 'value="2027-04-30"' in page
    report = _json(site, f"/reports/costs?{APRIL}")
    assert _json_totals(report) == {"EUR": ("60.00", "60.00"), "USD": ("210.00", "0.00")}
    assert _shown_totals(page) == _json_totals(report)
    assert "Tuesday IPT" in page and "Online maintenance" in page and "2027-04" in page
    for s in report["sessions"]:
        assert f"{s['total']} {s['currency']}" in page


def test_cost_report_filters_by_group_therapist_and_modality(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator")
    ids = clinic(site)
    browser = site.signed_in("dana@clinic.example")
    for query, expected in [
        (f"group_id={ids['usd']}", {"USD": ("210.00", "0.00")}),
        ("therapist_id=t-bo", {"EUR": ("60.00", "60.00")}),
        ("modality=maintenance", {"EUR": ("60.00", "60.00")}),
        ("modality=ipt&therapist_id=t-bo", {}),
    ]:
        body = _json(site, f"/reports/costs?{APRIL}&{query}")
        assert _json_totals(body) == expected, query
        assert _shown_totals(browser.text(f"/web/billing/costs?{APRIL}&{query}")) == expected
    bad = browser.get(f"/web/billing/costs?{APRIL}&modality=yoga")
    assert bad.status_code == 422 and "modality" in bad.get_data(as_text=True)
    backwards = browser.get("/web/billing/costs?from=2027-04-30&to=2027-04-01")
    assert backwards.status_code == 422 and "Must not precede" in backwards.get_data(as_text=True)


def test_claim_csv_has_one_row_per_line_and_the_report_totals(site: Site) -> None:
    site.user("bill@clinic.example", "billing")
    ids = clinic(site)
    browser = site.signed_in("bill@clinic.example")
    r = browser.get(f"/web/billing/claims.csv?{APRIL}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "claims.csv" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert rows == list(
        csv.DictReader(
            io.StringIO(site.api.get(f"/reports/claims?{APRIL}&format=csv").get_data(as_text=True))
        )
    )
    assert len(rows) == 5
    sums: dict[str, Decimal] = {}
    for row in rows:
        sums[row["currency"]] = sums.get(row["currency"], Decimal(0)) + Decimal(row["amount"])
    report = _json(site, f"/reports/costs?{APRIL}")
    assert {c: str(v) for c, v in sums.items()} == {
        t["currency"]: t["total"] for t in report["totals"]
    }
    no_show = next(r for r in rows if r["attendance_status"] == "absent")
    assert (no_show["patient_id"], no_show["session_date"], no_show["group_id"]) == (
        "p-2", "2027-04-06", ids["usd"],
    )  # fmt: skip
    assert (no_show["fee"], no_show["amount"], no_show["units"]) == ("85.00", "40.00", "1")
    assert (no_show["billing_code"], no_show["session_kind"]) == ("90853", "regular")
    assert (no_show["place_of_service"], no_show["modifier"]) == ("in_person", "")
    assert no_show["rendering_therapist_id"] == "t-ana"
    online = next(r for r in rows if r["currency"] == "EUR")
    assert (online["place_of_service"], online["place_of_service_code"], online["modifier"]) == (
        "telehealth", "02", "95",
    )  # fmt: skip
    assert (online["session_kind"], online["rendering_therapist_id"]) == ("maintenance", "t-bo")
    claims = _json(site, f"/reports/claims?{APRIL}")
    assert claims["totals"] == report["totals"] and len(claims["lines"]) == 5
    # The per-session CSV stays.
    per_session = site.api.get(f"/reports/costs?{APRIL}&format=csv", role="billing")
    assert per_session.get_data(as_text=True).startswith("session_date,session_id,group_id")


def test_month_close_lists_held_sessions_without_attendance(site: Site) -> None:
    site.user("bill@clinic.example", "billing")
    ids = clinic(site)
    browser = site.signed_in("bill@clinic.example")
    body = _json(site, f"/reports/month-close?{APRIL}")
    dates = [s["session_date"] for s in body["unrecorded"]]
    assert dates == ["2027-04-20", "2027-04-27"]  # 6, 13 April and the 4 April EUR one recorded
    page = browser.text(f"/web/billing/month-close?{APRIL}")
    assert '<strong id="unrecorded-count">2</strong>' in page
    assert all(d in page for d in dates) and "Tuesday IPT" in page
    march = browser.text("/web/billing/month-close?from=2027-03-01&to=2027-03-31")
    assert "unrecorded-count" in march  # March's other sessions were held, not taken
    site.clock.set(datetime(2027, 4, 21, 12, 0, tzinfo=UTC))
    later = _json(site, f"/reports/month-close?{APRIL}")["unrecorded"]
    assert [s["session_date"] for s in later] == ["2027-04-20"]  # the 27th not held yet
    assert ids


def test_statements_show_each_patients_lines_and_statement_totals(site: Site) -> None:
    site.user("bill@clinic.example", "billing")
    clinic(site)
    browser = site.signed_in("bill@clinic.example")
    page = browser.text("/web/billing/statements")  # last month: April
    assert page.count('class="statement card"') == 2
    for index, pid in enumerate(("p-1", "p-2"), start=1):
        statement = _json(site, f"/patients/{pid}/statement?{APRIL}")
        assert _shown_totals(page, f"totals-{index}") == _json_totals(statement)
    assert _json_totals(_json(site, f"/patients/p-1/statement?{APRIL}")) == {
        "EUR": ("60.00", "60.00"), "USD": ("85.00", "0.00"),
    }  # fmt: skip
    assert "Absent (no-show)" in page and "Excused (cancelled ahead)" in page
    assert "90853-95" in page  # the telehealth line shows its modifier
    one = browser.text(f"/web/billing/statements/p-2?{APRIL}")
    assert one.count('class="statement card"') == 1 and "Statement for Patient p-2" in one
    assert _shown_totals(one, "totals-1") == {"USD": ("125.00", "0.00")}


def test_billing_pages_are_read_only_and_not_for_therapists(site: Site) -> None:
    site.user("ana@clinic.example", "therapist", "t-ana")
    clinic(site)
    browser = site.signed_in("ana@clinic.example")
    for path in ("/web/billing/costs", "/web/billing/claims.csv", "/web/billing/statements",
                 "/web/billing/month-close"):  # fmt: skip
        assert browser.get(path).status_code == 403, path
    assert site.api.get("/reports/claims", role="therapist").status_code == 403


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text as poppler reads it; its first page also rendered to a PNG
    (var/screenshots/statement-pdf-1.png) to look at."""
    for tool in ("pdftotext", "pdftoppm"):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} is not installed (apt-get install poppler-utils)")
    path = tmp_path / "statement.pdf"
    path.write_bytes(pdf)
    SHOTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(path),
         str(SHOTS / "statement-pdf")],
        check=True,
    )  # fmt: skip
    done = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True)
    return done.stdout


def test_statement_pdf_has_the_lines_and_the_json_totals(site: Site, tmp_path: Path) -> None:
    site.user("bill@clinic.example", "billing")
    clinic(site)
    browser = site.signed_in("bill@clinic.example")
    r = browser.get(f"/web/billing/statements/p-1/pdf?{APRIL}")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert 'filename="statement-p-1.pdf"' in r.headers["Content-Disposition"]
    text = _pdf_text(r.get_data(), tmp_path)
    assert "Statement: Patient p-1" in text and "2027-04-01 to 2027-04-30" in text
    statement = _json(site, f"/patients/p-1/statement?{APRIL}")
    for t in statement["totals"]:
        c = t["currency"]
        assert (
            f"{c}: total {t['total']} {c}, maintenance subtotal {t['maintenance_subtotal']} {c}"
            in text
        )
    for line in statement["lines"]:
        assert line["session_date"] in text
    assert "90853-95" in text and "Excused (cancelled ahead)" in text
    assert "p-2" not in text
    every = browser.get(f"/web/billing/statements.pdf?{APRIL}")
    pages = _pdf_text(every.get_data(), tmp_path).split("\f")
    assert [p for p in pages if p.strip()][1].count("Statement: Patient p-2") == 1  # own page
    empty = _pdf_text(
        browser.get("/web/billing/statements.pdf?from=2026-01-01&to=2026-01-31").get_data(),
        tmp_path,
    )
    assert "No charge lines from 2026-01-01 to 2026-01-31." in empty


def test_statement_pdf_prints_any_name(tmp_path: Path) -> None:
    line = {
        "session_date": date(2027, 4, 6), "group_id": "g", "session_kind": "regular",
        "attendance_status": "present", "billing_code": "90853", "modifier": "",
        "fee": Decimal("85.00"), "amount": Decimal("85.00"), "currency": "USD",
    }  # fmt: skip
    total = {"currency": "USD", "total": Decimal("85.00"),
             "maintenance_subtotal": Decimal("0.00"), "lines": 1, "billable": 1}  # fmt: skip
    found = [{"patient_id": "p-9", "name": "Zoë Ñúñez-Łukasz", "lines": [line], "totals": [total]}]
    labels: dict[str, dict[str, str]] = {"kind": {}, "status": {}}
    pdf = statements_pdf(found, ("2027-04-01", "2027-04-30"), {"g": "Grupo Ελληνικά"}, labels)
    text = _pdf_text(pdf, tmp_path)
    assert "Zoë Ñúñez-Łukasz" in text and "Grupo Ελληνικά" in text
