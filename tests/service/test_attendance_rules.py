"""Issue 10 items 5, 6, 10 and 11 through HTTP: one at-risk answer, statements per currency
and period, advance cancellations, and what a therapist reads to take attendance.
Each scenario ends with the views equal to a clean rebuild."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.rebuilt import assert_views_equal_a_rebuild
from tests.service.conftest import Api, problem

MISSING = "00000000-0000-4000-8000-000000000000"


def assert_rebuilt(api: Api) -> None:
    services = api.app.extensions["circles"]
    assert_views_equal_a_rebuild(services.circles, services.reads.fresh(), services.settings)


def attend(api: Api, session_id: str, role: str = "coordinator", **statuses: str) -> Any:
    records = [{"patient_id": p.replace("_", "-"), "status": s} for p, s in statuses.items()]
    r = api.put(f"/sessions/{session_id}/attendance", json={"records": records}, role=role)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def cancel_ahead(api: Api, session_id: str, patient_id: str, told_at: str, **kw: Any) -> Any:
    return api.post(
        f"/sessions/{session_id}/cancellations",
        json={"patient_id": patient_id, "told_at": told_at},
        **kw,
    )


# --- item 5: one at-risk rule -----------------------------------------------------------------


def test_patient_attendance_never_contradicts_itself_about_at_risk(api: Api) -> None:
    g1 = api.group(min_size=1)["id"]
    g2 = api.group(name="Wednesday", facilitator_ids=["t-zed"], room_id="room-2", min_size=1)["id"]
    s1 = api.plan(g1)
    s2 = api.plan(g2, first_date="2027-03-03")
    for gid in (g1, g2):
        api.enroll(gid, "p-1")
    api.clock.set(datetime(2027, 3, 10, 12, 0, tzinfo=UTC))
    attend(api, s1[0]["id"], p_1="absent")  # Tuesday 2 March, group 1
    attend(api, s2[0]["id"], p_1="absent")  # Wednesday 3 March, group 2

    def bodies() -> list[dict[str, Any]]:
        return [
            api.get("/patients/p-1/attendance", role=role).get_json()
            for role in ("coordinator", "therapist", "other_therapist")
        ]

    # Two no-shows in a row, but in two groups: no group flags the patient, and neither does
    # any summary (before, the top said false and `overall` said true).
    for body in bodies():
        assert body["at_risk"] is body["overall"]["at_risk"] is False
        assert body["groups"] and not any(g["at_risk"] for g in body["groups"])
    attend(api, s1[1]["id"], p_1="absent")
    coordinator, ana, zed = bodies()
    assert coordinator["at_risk"] is coordinator["overall"]["at_risk"] is True
    assert {g["group_id"]: g["at_risk"] for g in coordinator["groups"]} == {g1: True, g2: False}
    assert ana["at_risk"] is ana["overall"]["at_risk"] is True  # t-ana runs group 1
    assert zed["at_risk"] is zed["overall"]["at_risk"] is False  # t-zed sees only group 2
    assert (zed["overall"]["recorded"], ana["overall"]["recorded"]) == (1, 2)
    report = api.get(f"/reports/attendance?group_id={g1}").get_json()
    assert report["overall"]["at_risk"] is True and report["patients"][0]["at_risk"] is True
    assert_rebuilt(api)


# --- item 6: statements per currency and period ----------------------------------------------


def _two_currencies(api: Api) -> dict[str, Any]:
    usd = api.group(min_size=1)["id"]
    eur = api.group(
        name="Berlin maintenance", modality="maintenance", facilitator_ids=["t-bo"],
        room_id="room-b", timezone="Europe/Berlin", currency="EUR",
    )["id"]  # fmt: skip
    c = api.plan(usd)
    m = api.plan(eur, cadence="monthly", count=2, first_date="2027-03-04")
    api.enroll(usd, "p-1")
    api.enroll(eur, "p-1")
    api.clock.set(datetime(2027, 4, 10, 12, 0, tzinfo=UTC))
    attend(api, c[0]["id"], p_1="present")  # USD 85.00, 2 March
    attend(api, m[0]["id"], p_1="present")  # EUR 60.00 maintenance, 4 March
    attend(api, c[5]["id"], p_1="absent")  # USD 40.00, 6 April
    attend(api, m[1]["id"], p_1="absent")  # EUR 40.00 maintenance, 4 April
    return {"usd": usd, "eur": eur}


def _totals(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(t["currency"], t["total"], t["maintenance_subtotal"]) for t in body["totals"]]


def test_statement_totals_are_per_currency_and_cover_from_to(api: Api) -> None:
    _two_currencies(api)
    whole = api.get("/patients/p-1/statement", role="billing").get_json()
    assert _totals(whole) == [("EUR", "100.00", "100.00"), ("USD", "125.00", "0.00")]
    assert "total" not in whole and "currency" not in whole  # no sum across currencies
    assert len(whole["lines"]) == 4 and (whole["from"], whole["to"]) == (None, None)
    march = api.get("/patients/p-1/statement?from=2027-03-01&to=2027-03-31").get_json()
    assert _totals(march) == [("EUR", "60.00", "60.00"), ("USD", "85.00", "0.00")]
    assert (march["from"], march["to"]) == ("2027-03-01", "2027-03-31")
    assert [line["session_date"] for line in march["lines"]] == ["2027-03-02", "2027-03-04"]
    april = api.get("/patients/p-1/statement?from=2027-04-01", role="billing").get_json()
    assert _totals(april) == [("EUR", "40.00", "40.00"), ("USD", "40.00", "0.00")]
    assert api.get("/patients/p-1/statement?to=2027-02-28").get_json()["totals"] == []
    assert_rebuilt(api)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2027-04-01&to=2027-03-01", "to"),
        ("from=2027-02-30", "from"),
        ("to=March", "to"),
        ("from=1899-01-01", "from"),
        ("from=2027-03-01T00:00", "from"),
        ("month=2027-03", "month"),
    ],
)
def test_statement_refuses_a_bad_period(api: Api, query: str, field: str) -> None:
    body = problem(api.get(f"/patients/p-1/statement?{query}", role="billing"), 422)
    assert field in body["errors"]
    body = problem(api.get(f"/reports/costs?{query}", role="billing"), 422)
    assert field in body["errors"]


def test_cost_report_totals_are_per_currency_and_the_csv_adds_up_to_them(api: Api) -> None:
    _two_currencies(api)
    report = api.get("/reports/costs?from=2027-03-01&to=2027-04-30", role="billing").get_json()
    assert _totals(report) == [("EUR", "100.00", "100.00"), ("USD", "125.00", "0.00")]
    assert {(m["month"], m["currency"]): m["total"] for m in report["months"]} == {
        ("2027-03", "EUR"): "60.00",
        ("2027-03", "USD"): "85.00",
        ("2027-04", "EUR"): "40.00",
        ("2027-04", "USD"): "40.00",
    }
    r = api.get("/reports/costs?from=2027-03-01&to=2027-04-30&format=csv", role="billing")
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    json_rows = [
        {k: str(s[k]) for k in ("session_id", "currency", "total", "maintenance_subtotal")}
        for s in report["sessions"]
    ]
    csv_rows = [
        {k: row[k] for k in ("session_id", "currency", "total", "maintenance_subtotal")}
        for row in rows
    ]
    assert csv_rows == json_rows
    for currency, total, maintenance in _totals(report):
        mine = [row for row in rows if row["currency"] == currency]
        assert f"{sum(_d(row['total']) for row in mine):.2f}" == total
        assert f"{sum(_d(row['maintenance_subtotal']) for row in mine):.2f}" == maintenance
    assert_rebuilt(api)


def _d(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)


# --- item 10: advance cancellations -----------------------------------------------------------


def test_advance_cancellation_is_excused_or_late_cancel_and_drives_the_charge(api: Api) -> None:
    gid = api.group(min_size=1)["id"]
    s = api.plan(gid)
    s1 = s[0]["id"]  # Tuesday 2 March 2027, 18:00 New York
    for pid in ("p-1", "p-2", "p-3"):
        api.enroll(gid, pid)
    api.clock.set(datetime(2027, 3, 2, 12, 0, tzinfo=UTC))
    r = cancel_ahead(api, s1, "p-1", "2027-03-01T18:00")  # 24 hours ahead: enough notice
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["status"], body["late_cancel_window_hours"]) == ("excused", 24)
    assert body["told_at"] == "2027-03-01T18:00:00-05:00"
    assert r.headers["ETag"]
    r = cancel_ahead(api, s1, "p-2", "2027-03-02T11:30:00+00:00", role="therapist")
    assert r.status_code == 201 and r.get_json()["status"] == "late_cancel"
    session = api.get(f"/sessions/{s1}").get_json()
    assert {a["patient_id"]: a["status"] for a in session["attendance"]} == {
        "p-1": "excused",
        "p-2": "late_cancel",
    }
    assert [c["told_at"] for c in session["cancellations"]] == [
        "2027-03-01T18:00:00-05:00",
        "2027-03-02T06:30:00-05:00",
    ]
    roster = api.get(f"/sessions/{s1}/roster", role="therapist").get_json()
    assert [(p["patient_id"], p["status"]) for p in roster["patients"]] == [
        ("p-1", "excused"),
        ("p-2", "late_cancel"),
        ("p-3", None),
    ]
    statement = api.get("/patients/p-2/statement", role="billing").get_json()
    assert _totals(statement) == [("USD", "30.00", "0.00")]
    assert api.get("/patients/p-1/statement").get_json()["totals"][0]["total"] == "0.00"
    assert api.get("/patients/p-2/attendance").get_json()["overall"]["counts"]["late_cancel"] == 1
    assert_rebuilt(api)

    # After the session: p-2 came after all; the correction replaces the cancellation.
    api.clock.set(datetime(2027, 3, 3, 12, 0, tzinfo=UTC))
    attend(api, s1, role="therapist", p_2="present", p_3="absent")
    roster = api.get(f"/sessions/{s1}/roster").get_json()
    assert [p["status"] for p in roster["patients"]] == ["excused", "present", "absent"]
    statement = api.get("/patients/p-2/statement", role="billing").get_json()
    assert _totals(statement) == [("USD", "85.00", "0.00")]
    assert_rebuilt(api)


def test_advance_cancellation_refusals(api: Api) -> None:
    gid = api.group(min_size=1)["id"]
    s = api.plan(gid)
    s1, s2 = s[0]["id"], s[1]["id"]
    api.enroll(gid, "p-1")
    waiting = api.group(name="Full", max_size=1, min_size=1, facilitator_ids=["t-bo"],
                        room_id="room-2")["id"]  # fmt: skip
    f1 = api.plan(waiting)[0]["id"]
    api.enroll(waiting, "p-8")
    api.enroll(waiting, "p-9")  # waitlisted
    api.clock.set(datetime(2027, 3, 2, 12, 0, tzinfo=UTC))
    # Field problems name the field.
    for told_at in (
        "yesterday",
        "2027-03-02T10:00:00+25:00",
        "2027-03-03T09:00",
        "0001-01-01T00:30+14:00",
    ):
        body = problem(cancel_ahead(api, s1, "p-1", told_at), 422)
        assert "told_at" in body["errors"], body
    assert (
        "patient_id" in problem(api.post(f"/sessions/{s1}/cancellations", json={}), 422)["errors"]
    )
    problem(cancel_ahead(api, MISSING, "p-1", "2027-03-01T10:00"), 404)
    problem(cancel_ahead(api, s1, "p-404", "2027-03-01T10:00"), 404)
    problem(cancel_ahead(api, f1, "p-9", "2027-03-01T10:00"), 409)  # not enrolled then
    api.post(f"/sessions/{s2}/cancel", json={"reason": "holiday"})
    problem(cancel_ahead(api, s2, "p-1", "2027-03-01T10:00"), 409)  # cancelled session
    assert cancel_ahead(api, s1, "p-1", "2027-03-01T10:00").status_code == 201
    problem(cancel_ahead(api, s1, "p-1", "2027-03-02T06:00"), 409)  # already cancelled
    api.clock.set(datetime(2027, 3, 9, 23, 0, tzinfo=UTC))  # session 3 has not started...
    problem(cancel_ahead(api, s[0]["id"], "p-1", "2027-03-01T10:00"), 409)  # ...1 has
    problem(cancel_ahead(api, s1, "p-1", "2027-03-01T10:00", role="other_therapist"), 404)
    problem(cancel_ahead(api, s1, "p-1", "2027-03-01T10:00", role="billing"), 403)
    assert_rebuilt(api)


# --- item 11: what a therapist reads to take attendance ---------------------------------------


def _accepted_guest(api: Api, session_id: str, patient_id: str) -> str:
    r = api.post(
        f"/sessions/{session_id}/invitations",
        json={"patient_id": patient_id, "invitee_name": "Sam", "relationship": "spouse"},
    )
    iid: str = r.get_json()["id"]
    assert api.post(f"/invitations/{iid}/approve", role="therapist").status_code == 200
    consent = {"signed_by": "P", "signed_at": "2027-01-03T10:00:00+00:00", "document_ref": "d"}
    assert api.post(f"/invitations/{iid}/consent", json=consent).status_code == 200
    url = api.post(f"/invitations/{iid}/send").get_json()["url"]
    token = url.rsplit("/", 1)[1]
    assert api.post(f"/i/{token}/accept", role=None).status_code == 200
    return iid


def test_therapist_reads_the_sessions_enrollments_and_roster_of_their_groups(api: Api) -> None:
    gid = api.group(min_size=1)["id"]
    s = api.plan(gid)
    s1, s2 = s[0]["id"], s[1]["id"]
    api.enroll(gid, "p-1")
    api.enroll(gid, "p-2")
    iid = _accepted_guest(api, s1, "p-1")
    # Session 1 has passed when p-3 joins: p-3 is expected from session 2 on.
    api.clock.set(datetime(2027, 3, 3, 12, 0, tzinfo=UTC))
    api.enroll(gid, "p-3")

    assert api.get(f"/sessions/{s1}", role="therapist").get_json()["id"] == s1
    listed = api.get(f"/groups/{gid}/sessions?limit=5", role="therapist").get_json()
    assert [x["number"] for x in listed["items"]] == [1, 2, 3, 4, 5]
    enrolled = api.get(f"/groups/{gid}/enrollments", role="therapist").get_json()
    assert [e["patient_id"] for e in enrolled["items"]] == ["p-1", "p-2", "p-3"]

    roster = api.get(f"/sessions/{s1}/roster", role="therapist").get_json()
    assert (roster["session_id"], roster["group_id"], roster["number"]) == (s1, gid, 1)
    assert roster["starts_at"] == "2027-03-02T18:00:00-05:00"
    assert [(p["patient_id"], p["status"]) for p in roster["patients"]] == [
        ("p-1", None),
        ("p-2", None),
    ]
    assert [(g["invitation_id"], g["patient_id"], g["invitation_status"], g["status"])
            for g in roster["guests"]] == [(iid, "p-1", "accepted", None)]  # fmt: skip
    r2 = api.get(f"/sessions/{s2}/roster", role="therapist").get_json()
    assert [p["patient_id"] for p in r2["patients"]] == ["p-1", "p-2", "p-3"]

    # Taking attendance from the roster, then reading it back.
    records = [
        {"patient_id": "p-1", "status": "present"},
        {"patient_id": "p-2", "status": "absent"},
        {"invitation_id": iid, "status": "present"},
    ]
    r = api.put(f"/sessions/{s1}/attendance", json={"records": records}, role="therapist")
    assert r.status_code == 200
    roster = api.get(f"/sessions/{s1}/roster", role="therapist").get_json()
    assert [p["status"] for p in roster["patients"]] == ["present", "absent"]
    assert [(g["invitation_status"], g["status"]) for g in roster["guests"]] == [
        ("attended", "present")
    ]
    assert_rebuilt(api)


def test_therapist_finds_nothing_of_groups_they_do_not_facilitate(api: Api) -> None:
    gid = api.group()["id"]
    s1 = api.plan(gid)[0]["id"]
    api.enroll(gid, "p-1")
    for path in (
        f"/sessions/{s1}",
        f"/sessions/{s1}/roster",
        f"/groups/{gid}/sessions",
        f"/groups/{gid}/enrollments",
    ):
        hidden = problem(api.get(path, role="other_therapist"), 404)
        # Exactly what an unknown id answers: nothing tells that it exists.
        unknown = problem(api.get(path.replace(s1, MISSING).replace(gid, MISSING)), 404)
        assert hidden["title"] == unknown["title"]
        assert api.get(path, role="coordinator").status_code == 200
        assert api.get(path, role="therapist").status_code == 200
        problem(api.get(path, role="billing"), 403)
    problem(api.get(f"/sessions/{MISSING}/roster", role="therapist"), 404)
    assert_rebuilt(api)
