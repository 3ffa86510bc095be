"""Calendars, attendance and cost reports over HTTP: read-your-writes on the views."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from tests.service.conftest import Api, problem

MISSING = "00000000-0000-4000-8000-000000000000"


def _held_session(api: Api) -> tuple[str, list[dict]]:
    group = api.group(min_size=1)
    sessions = api.plan(group["id"])
    api.enroll(group["id"], "p-1")
    api.enroll(group["id"], "p-2")
    api.clock.set(datetime(2027, 3, 10, 12, 0, tzinfo=UTC))
    for sid, statuses in (
        (sessions[0]["id"], ("present", "absent")),
        (sessions[1]["id"], ("late", "absent")),
    ):
        r = api.put(
            f"/sessions/{sid}/attendance",
            json={
                "records": [
                    {"patient_id": "p-1", "status": statuses[0]},
                    {"patient_id": "p-2", "status": statuses[1]},
                ]
            },
        )
        assert r.status_code == 200
    return group["id"], sessions


def test_therapist_and_room_calendars(api: Api) -> None:
    group = api.group()
    sessions = (
        api.plan(group["id"], count=3, length_override_reason=None)
        if False
        else api.plan(group["id"])
    )
    r = api.get("/therapists/t-ana/sessions?limit=5", role="therapist")
    assert r.status_code == 200
    page = r.get_json()
    assert [s["id"] for s in page["items"]] == [s["id"] for s in sessions[:5]]
    rest = api.get(f"/therapists/t-ana/sessions?limit=50&cursor={page['next_cursor']}").get_json()
    assert len(rest["items"]) == 7 and rest["next_cursor"] is None
    window = api.get(
        "/rooms/room-1/sessions?start=2027-03-08T00:00:00Z&end=2027-03-20T00:00:00Z", role="billing"
    ).get_json()
    assert [s["number"] for s in window["items"]] == [2, 3]
    problem(api.get("/therapists/t-bob/sessions", role="therapist"), 404)
    problem(api.get("/rooms/room-1/sessions?start=yesterday"), 422)
    problem(api.get("/rooms/room-1/sessions?cursor=abc"), 422)


def test_attendance_reports(api: Api) -> None:
    gid, _ = _held_session(api)
    report = api.get(f"/reports/attendance?group_id={gid}", role="therapist").get_json()
    rates = {p["patient_id"]: p for p in report["patients"]}
    assert rates["p-1"]["rate"] == "1.0000" and not rates["p-1"]["at_risk"]
    assert rates["p-2"]["at_risk"] and rates["p-2"]["counts"]["absent"] == 2
    patient = api.get("/patients/p-2/attendance").get_json()
    assert patient["at_risk"] and patient["groups"][0]["group_id"] == gid
    hidden = api.get("/patients/p-2/attendance", role="other_therapist").get_json()
    assert hidden["groups"] == []
    problem(api.get(f"/reports/attendance?group_id={gid}", role="other_therapist"), 404)
    problem(api.get("/reports/attendance"), 422)
    problem(api.get(f"/reports/attendance?group_id={MISSING}"), 404)


def test_cost_report_and_statement(api: Api) -> None:
    gid, sessions = _held_session(api)
    report = api.get(
        f"/reports/costs?from=2027-03-01&to=2027-03-31&group_id={gid}", role="billing"
    ).get_json()
    totals = {s["session_id"]: s["total"] for s in report["sessions"]}
    assert totals == {sessions[0]["id"]: "125.00", sessions[1]["id"]: "125.00"}
    assert report["groups"][0]["total"] == "250.00"
    assert report["months"][0]["month"] == "2027-03"
    r = api.get("/reports/costs?format=csv", role="billing")
    assert r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert sorted(row["total"] for row in rows) == ["125.00", "125.00"]
    statement = api.get("/patients/p-2/statement", role="billing").get_json()
    assert [(t["currency"], t["total"]) for t in statement["totals"]] == [("USD", "80.00")]
    assert len(statement["lines"]) == 2
    problem(api.get("/reports/costs?from=2027-04-01&to=2027-03-01"), 422)
    problem(api.get("/reports/costs?format=xml"), 422)
    problem(api.get("/reports/costs?from=2027-02-30"), 422)
