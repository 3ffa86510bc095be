"""Ends, double booking and moves in absolute time across clock changes, over HTTP (issue 10.1).

Times in requests are local wall-clock time in the group's zone; in the repeated hour of the
night clocks go back, an explicit offset picks which one (-04:00 the first, EDT; -05:00 the
second, EST).
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import icalendar

from tests.rebuilt import assert_views_equal_a_rebuild
from tests.service.conftest import Api, problem


def views_equal_a_rebuild(api: Api) -> None:
    services = api.app.extensions["circles"]
    assert_views_equal_a_rebuild(services.circles, services.reads.projector, services.settings)


def reschedule(api: Api, session_id: str, starts_at: str) -> Any:
    return api.post(
        f"/sessions/{session_id}/reschedule", json={"starts_at": starts_at, "reason": "moved"}
    )


def test_a_90_minute_session_at_0130_est_ends_0400_edt_and_its_feed_dtend_says_so(
    api: Api,
) -> None:
    group = api.group()
    (session,) = api.plan(group["id"], first_date="2027-03-14", start_time="01:30", count=1)
    assert session["starts_at"] == "2027-03-14T01:30:00-05:00"
    assert session["ends_at"] == "2027-03-14T04:00:00-04:00"
    r = api.post("/therapists/t-ana/feed-tokens")
    assert r.status_code == 201, r.get_json()
    url = r.get_json()["url"]
    feed = api.get("/" + url.split("://", 1)[1].split("/", 1)[1], role=None)
    assert feed.status_code == 200
    assert b"DTEND;TZID=America/New_York:20270314T040000" in feed.data.replace(b"\r\n ", b"")
    (event,) = icalendar.Calendar.from_ical(feed.data).walk("VEVENT")
    # Subtracting two times of one zone gives wall-clock minutes (150); in UTC it is 90.
    elapsed = event["DTEND"].dt.astimezone(UTC) - event["DTSTART"].dt.astimezone(UTC)
    assert elapsed == timedelta(minutes=90)
    views_equal_a_rebuild(api)


def test_a_0315_edt_session_of_the_same_therapist_is_refused_409_naming_the_session(
    api: Api,
) -> None:
    first = api.group()
    (taken,) = api.plan(first["id"], first_date="2027-03-14", start_time="01:30", count=1)
    other = api.group(name="Night owls", room_id="room-2")  # same therapist, t-ana
    url = f"/groups/{other['id']}/sessions"
    body = {
        "first_date": "2027-03-14",
        "start_time": "03:15",
        "duration_minutes": 90,
        "cadence": "weekly",
        "count": 1,
    }
    refused = problem(api.post(url, json=body), 409)
    assert refused["colliding_session_id"] == taken["id"]
    assert taken["id"] in refused["detail"] and "04:00 EDT" in refused["detail"]
    assert api.get(f"/groups/{other['id']}").get_json()["session_count"] == 0
    views_equal_a_rebuild(api)


def test_overlapping_sessions_at_0150_edt_and_0110_est_on_fall_back_night_are_refused(
    api: Api,
) -> None:
    early = api.group()
    (taken,) = api.plan(
        early["id"], first_date="2027-11-07", start_time="01:50", duration_minutes=60, count=1
    )
    assert taken["ends_at"] == "2027-11-07T01:50:00-05:00"
    late = api.group(name="Second 01:10", facilitator_ids=["t-bo"])  # same room
    (moving,) = api.plan(
        late["id"], first_date="2027-11-14", start_time="01:10", duration_minutes=40, count=1
    )
    refused = problem(reschedule(api, moving["id"], "2027-11-07T01:10-05:00"), 409)
    assert refused["colliding_session_id"] == taken["id"]
    # The first 01:10 (EDT) ends at 01:50 EDT, just as the 01:50 EDT session begins.
    r = reschedule(api, moving["id"], "2027-11-07T01:10-04:00")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["ends_at"] == "2027-11-07T01:50:00-04:00"
    views_equal_a_rebuild(api)


def test_moving_a_session_from_0130_est_to_0130_edt_is_accepted(api: Api) -> None:
    group = api.group()
    (session,) = api.plan(group["id"], first_date="2027-11-07", start_time="01:30", count=1)
    assert session["starts_at"] == "2027-11-07T01:30:00-04:00"  # a plain 01:30 is the first
    r = reschedule(api, session["id"], "2027-11-07T01:30-05:00")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["starts_at"] == "2027-11-07T01:30:00-05:00"
    r = reschedule(api, session["id"], "2027-11-07T01:30-04:00")
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["starts_at"], r.get_json()["sequence"]) == ("2027-11-07T01:30:00-04:00", 2)
    problem(reschedule(api, session["id"], "2027-11-07T05:30Z"), 422)  # the same instant
    views_equal_a_rebuild(api)
