"""The week calendar of rooms and therapists: who is where, the free time in clinic hours,
the right local times in a week the clocks change, and refusals of a bad week in words."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from projections.store import StoreSettings
from service import create_app
from service.web.slots import ClinicHours, free_slots
from service.web.week_calendar import parse_week
from tests.web.conftest import Browser, Site

DANA = "dana@clinic.example"
NEW_YORK = ZoneInfo("America/New_York")
DAY_HOURS = ClinicHours.parse("08:00-20:00")


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def _hours(slot: tuple[datetime, datetime]) -> timedelta:
    """How long a slot lasts (two times of one zone subtract by wall clock: not that)."""
    return slot[1].astimezone(UTC) - slot[0].astimezone(UTC)


def _wall(slots: list[tuple[datetime, datetime]]) -> list[str]:
    return [f"{a:%H:%M %Z}–{b:%H:%M %Z}" for a, b in slots]


# --- the free-slot computation ------------------------------------------------------------------


def test_free_time_is_clinic_hours_minus_the_bookings() -> None:
    day = date(2027, 3, 2)
    busy = [
        (_ny(2027, 3, 2, 10), _ny(2027, 3, 2, 11, 30)),
        # Overlapping the first, given in another zone (11:00–12:00 New York).
        (_utc(2027, 3, 2, 16, 0), _utc(2027, 3, 2, 17, 0)),
        # From the evening before into this morning: only its part in clinic hours counts.
        (_ny(2027, 3, 1, 22), _ny(2027, 3, 2, 8, 30)),
        # After closing: no effect.
        (_ny(2027, 3, 2, 20), _ny(2027, 3, 2, 21)),
        # Leaves 19:45–20:00, shorter than asked for.
        (_ny(2027, 3, 2, 18), _ny(2027, 3, 2, 19, 45)),
    ]
    found = free_slots(day, NEW_YORK, DAY_HOURS, busy, shortest=timedelta(minutes=30))
    assert _wall(found) == ["08:30 EST–10:00 EST", "12:00 EST–18:00 EST"]
    assert all(a.tzinfo == NEW_YORK for a, _ in found)
    assert _wall(free_slots(day, NEW_YORK, DAY_HOURS, [])) == ["08:00 EST–20:00 EST"]
    whole_day = [(_utc(2027, 3, 2, 0), _utc(2027, 3, 3, 12))]
    assert free_slots(day, NEW_YORK, DAY_HOURS, whole_day) == []


def test_free_time_across_a_clock_change_is_absolute() -> None:
    spring, autumn = date(2027, 3, 14), date(2027, 11, 7)  # New York changes clocks
    always = ClinicHours.parse("00:00-24:00")
    (day,) = free_slots(spring, NEW_YORK, always, [])
    assert _hours(day) == timedelta(hours=23) and _wall([day]) == ["00:00 EST–00:00 EDT"]
    (day,) = free_slots(autumn, NEW_YORK, always, [])
    assert _hours(day) == timedelta(hours=25)
    # A session at 12:00 UTC is 08:00 EDT on the Sunday clocks went forward (07:00 a week
    # earlier): the day's free time starts when it ends, at 09:00 local.
    busy = [(_utc(2027, 3, 14, 12), _utc(2027, 3, 14, 13))]
    found = free_slots(spring, NEW_YORK, DAY_HOURS, busy)
    assert _wall(found) == ["09:00 EDT–20:00 EDT"]
    assert found[0][0] == _utc(2027, 3, 14, 13) and found[0][1] == _utc(2027, 3, 15, 0)
    # The hour the clocks repeat: 01:30 EDT to 01:30 EST is an hour long, not nothing.
    repeated = [(_utc(2027, 11, 7, 5, 30), _utc(2027, 11, 7, 6, 30))]
    found = free_slots(autumn, NEW_YORK, always, repeated)
    assert [(a.astimezone(UTC), b.astimezone(UTC)) for a, b in found] == [
        (_utc(2027, 11, 7, 4), _utc(2027, 11, 7, 5, 30)),
        (_utc(2027, 11, 7, 6, 30), _utc(2027, 11, 8, 5)),
    ]
    # Opening at a time the clocks skip (02:00–03:00 that night): read with the offset
    # before the change, half an hour past it.
    ((a, _),) = free_slots(spring, NEW_YORK, ClinicHours.parse("02:30-20:00"), [])
    assert a.astimezone(UTC) == _utc(2027, 3, 14, 7, 30) and f"{a:%H:%M %Z}" == "03:30 EDT"


@pytest.mark.parametrize(
    ("text", "says"),
    [("8-20", "look like 08:00-20:00"), ("20:00-08:00", "close after they open"),
     ("08:00-24:30", "not times of day"), ("25:00-26:00", "not times of day")],
)  # fmt: skip
def test_clinic_hours_are_validated(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        ClinicHours.parse(text)
    assert ClinicHours.parse(" 07:30 - 24:00 ").label == "07:30–24:00"


def test_a_bad_clinic_hours_setting_stops_the_app(tmp_path: Any) -> None:
    store = StoreSettings("sqlite", sqlite_path=tmp_path / "c.sqlite3")
    with pytest.raises(RuntimeError, match="CIRCLES_CLINIC_HOURS: clinic hours"):
        create_app({"STORE": store, "TESTING": True, "CLINIC_HOURS": "evenings"})


def test_weeks_are_iso_weeks_within_the_bounds() -> None:
    assert parse_week("2027-W10") == date(2027, 3, 8)
    assert parse_week("2026-W53") == date(2026, 12, 28)
    refused = [
        ("2027-W53", "2027 has weeks 01 to 52"), ("2027-W00", "weeks 01 to 52"),
        ("1999-W10", "from 2000 to 2099"), ("2027-10", "not a week like"),
        ("2027-W1", "not a week like"), ("\uff12\uff10\uff12\uff17-W10", "not a week like"),
    ]  # fmt: skip
    for bad, says in refused:
        with pytest.raises(ValueError, match=says):
            parse_week(bad)


# --- the page -----------------------------------------------------------------------------------


def _cell(page: str, day: str, column: str) -> str:
    """The text of one day's cell under one column."""
    row = re.search(rf'id="day-{day}">(.*?)</tr>', page, re.S)
    assert row, f"no row for {day}"
    cell = re.search(rf'<td data-label="{re.escape(column)}">(.*?)</td>', row.group(1), re.S)
    assert cell, f"no {column} cell on {day}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell.group(1))).strip()


def _clinic(site: Site) -> dict[str, Any]:
    """Tuesday IPT in room-1 with Ana (18:00), Sunday MIT in room-2 with Zed (10:00) — the
    Sunday of 2027-W10 is the day New York's clocks go forward; Tuesday's session in that
    week is cancelled."""
    api = site.api
    site.api.app.config["CLINIC_TIMEZONE"] = "America/New_York"
    site.clock.set(_utc(2027, 2, 1, 12))
    tuesday = api.group(name="Tuesday evening IPT")
    t_sessions = api.plan(tuesday["id"], first_date="2027-03-02", count=12)
    sunday = api.group(
        name="Sunday MIT", modality="mit", facilitator_ids=["t-zed"], room_id="room-2"
    )
    s_sessions = api.plan(sunday["id"], first_date="2027-03-07", start_time="10:00", count=12)
    r = api.post(f"/sessions/{t_sessions[1]['id']}/cancel", json={"reason": "Clinic closed"})
    assert r.status_code == 200, r.get_json()
    site.clock.set(_utc(2027, 3, 10, 12))  # Wednesday of 2027-W10
    site.user(DANA, "coordinator", name="Dana Reyes")
    site.user("ana@clinic.example", "therapist", "t-ana", name="Ana Silva")
    return {"tuesday": tuesday, "sunday": sunday, "t": t_sessions, "s": s_sessions}


def _dana(site: Site) -> Browser:
    return site.signed_in(DANA)


def test_rooms_week_shows_who_is_where_and_the_free_time(site: Site) -> None:
    made = _clinic(site)
    dana = _dana(site)
    page = dana.text("/web/calendar")  # this week, by room
    assert "<h1>Week calendar: rooms</h1>" in page and "week 2027-W10" in page
    assert 'aria-current="page">Week calendar' in page
    assert "Times are the clinic’s (America/New_York)" in page and "08:00–20:00" in page
    # The Sunday the clocks go forward: 10:00 local, after the change, and marked.
    assert _cell(page, "2027-03-14", "room-2") == (
        "10:00–11:30 EDT Sunday MIT , session 2 of Sunday MIT, Sun 14 Mar t-zed "
        "Free 08:00–10:00, 11:30–20:00"
    )
    assert "Clocks go forward: EST to EDT" in page
    assert f'href="/web/sessions/{made["s"][1]["id"]}"' in page
    assert f'href="/web/groups/{made["sunday"]["id"]}"' in page
    # Tuesday's session is cancelled: shown so, and the room is free all day.
    tuesday = _cell(page, "2027-03-09", "room-1")
    assert tuesday.startswith("18:00–19:30 EST cancelled Tuesday evening IPT")
    assert "Ana Silva" in tuesday and tuesday.endswith("Free 08:00–20:00")
    assert _cell(page, "2027-03-10", "room-2") == "Free 08:00–20:00"
    # The week before the change: the same Sunday session at 10:00 EST.
    before = dana.text("/web/calendar?week=2027-W09&by=room")
    assert _cell(before, "2027-03-07", "room-2").startswith("10:00–11:30 EST Sunday MIT")
    assert "Clocks go" not in before
    assert _cell(before, "2027-03-02", "room-1").startswith("18:00–19:30 EST Tuesday evening IPT")
    assert _cell(before, "2027-03-02", "room-1").endswith("Free 08:00–18:00, 19:30–20:00")
    after = dana.text("/web/calendar?week=2027-W11")
    assert _cell(after, "2027-03-16", "room-1").startswith("18:00–19:30 EDT Tuesday evening IPT")
    # Week navigation keeps the view.
    assert 'href="/web/calendar?week=2027-W09&amp;by=room">← Previous week' in page
    assert 'href="/web/calendar?week=2027-W11&amp;by=room">Next week →' in page
    assert "This week</a>" in after


def test_therapists_week_and_listed_rooms(site: Site) -> None:
    _clinic(site)
    dana = _dana(site)
    page = dana.text("/web/calendar?week=2027-W10&by=therapist")
    assert "<h1>Week calendar: therapists</h1>" in page
    assert '<th scope="col">Ana Silva (t-ana)</th>' in page and '<th scope="col">t-zed</th>' in page
    assert _cell(page, "2027-03-14", "t-zed").startswith("10:00–11:30 EDT Sunday MIT")
    assert _cell(page, "2027-03-14", "t-zed").endswith("room-2 Free 08:00–10:00, 11:30–20:00")
    assert _cell(page, "2027-03-14", "Ana Silva (t-ana)") == "Free 08:00–20:00"
    # Every therapist with an account has a column, busy or not; a disabled one does not.
    bo = site.user("bo@clinic.example", "therapist", "t-bo", name="Bo Lind")
    assert "Bo Lind (t-bo)</th>" in dana.text("/web/calendar?week=2027-W10&by=therapist")
    site.accounts.set_disabled(bo.id, True, site.clock())
    assert "t-bo" not in dana.text("/web/calendar?week=2027-W10&by=therapist")
    # A room nobody books this week shows only when the clinic lists it.
    assert "room-9" not in dana.text("/web/calendar?week=2027-W10")
    site.api.app.config["CLINIC_ROOMS"] = "room-9, room-1"
    listed = dana.text("/web/calendar?week=2027-W10")
    assert _cell(listed, "2027-03-12", "room-9") == "Free 08:00–20:00"
    # Other clinic hours.
    site.api.app.config["CLINIC_HOURS"] = "09:00-17:00"
    assert _cell(dana.text("/web/calendar?week=2027-W10"), "2027-03-14", "room-2").endswith(
        "Free 09:00–10:00, 11:30–17:00"
    )


def test_an_empty_week_and_online_sessions(site: Site) -> None:
    _clinic(site)
    dana = _dana(site)
    assert "No room is booked this week" in dana.text("/web/calendar?week=2030-W01")
    # The first and last weeks that can be shown lead no further.
    first = dana.text("/web/calendar?week=2000-W01")
    assert "Previous week" not in first and 'week=2000-W02&amp;by=room">Next week' in first
    last = dana.text("/web/calendar?week=2099-W53")
    assert "Next week" not in last and 'week=2099-W52&amp;by=room">← Previous week' in last
    site.clock.set(_utc(2027, 2, 1, 12))
    online = site.api.group(
        name="Online DIT", modality="dit", format="online", room_id=None,
        video_url="https://video.example/room", facilitator_ids=["t-lou"],
    )  # fmt: skip
    site.api.plan(online["id"], first_date="2027-03-10", start_time="12:00", count=16)
    site.clock.set(_utc(2027, 3, 10, 12))
    page = dana.text("/web/calendar?week=2027-W10")
    assert _cell(page, "2027-03-10", "No room (online)").startswith("12:00–13:30 EST Online DIT")
    assert "Free" not in _cell(page, "2027-03-10", "No room (online)")


@pytest.mark.parametrize(
    ("query", "says"),
    [("week=2027-W54", "2027 has weeks 01 to 52, not 54."),
     ("week=1999-W52", "Weeks from 2000 to 2099 can be shown, not 1999."),
     ("week=next", "“next” is not a week like 2027-W10"),
     ("week=2027-W10&by=desk", "“desk” is not one of room, therapist."),
     ("week=" + "9" * 5000, "is not a week like"),
     ("week=2027-W10%00", "“2027-W10\ufffd” is not a week like")],
)  # fmt: skip
def test_a_bad_address_is_refused_in_words(site: Site, query: str, says: str) -> None:
    _clinic(site)
    r = _dana(site).get(f"/web/calendar?{query}")
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and r.mimetype == "text/html"
    assert "This calendar cannot be shown" in text and says.replace("“", "") in text.replace(
        "“", ""
    )
    assert 'href="/web/calendar?week=2027-W10&amp;by=room"' in text  # the way back


def test_the_calendar_is_for_coordinators(site: Site) -> None:
    _clinic(site)
    ana = site.signed_in("ana@clinic.example")
    r = ana.get("/web/calendar")
    assert r.status_code == 403 and "for coordinator accounts" in r.get_data(as_text=True)
    r = site.browser().get("/web/calendar?week=2027-W10")
    assert r.status_code == 302 and "next=/web/calendar" in r.headers["Location"]


def test_monday_midnight_bounds_the_week(site: Site) -> None:
    """A session on Sunday 23:00 belongs to its week, one on Monday 00:00 to the next."""
    _clinic(site)
    site.clock.set(_utc(2027, 2, 1, 12))
    late = site.api.group(name="Late IPT", facilitator_ids=["t-owl"], room_id="room-7")
    site.api.plan(late["id"], first_date="2027-03-14", start_time="23:00", count=12,
                  duration_minutes=60)  # fmt: skip
    site.clock.set(_utc(2027, 3, 10, 12))
    dana = _dana(site)
    page = dana.text("/web/calendar?week=2027-W10")
    assert _cell(page, "2027-03-14", "room-7").startswith("23:00–00:00 EDT Late IPT")
    assert _cell(page, "2027-03-14", "room-7").endswith("Free 08:00–20:00")
    following = dana.text("/web/calendar?week=2027-W11")
    assert _cell(following, "2027-03-15", "room-7") == "Free 08:00–20:00"
    assert _cell(following, "2027-03-21", "room-7").startswith("23:00–00:00 EDT Late IPT")
