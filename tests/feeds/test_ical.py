"""The assembled calendar is exactly icalendar's own serialisation of the same components."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from icalendar import Calendar, vDuration

from projections.calendars import CalendarEntry
from service import ical
from tests.feeds.conftest import parse


def entry(n: int, tz: str, start: datetime, **changes: object) -> CalendarEntry:
    zone = ZoneInfo(tz)
    local = start.replace(tzinfo=zone)
    base = CalendarEntry(
        session_id=UUID(int=n), group_id=UUID(int=999), number=n, kind="regular",
        starts_at=local, ends_at=local + timedelta(minutes=90), duration_minutes=90,
        timezone=tz, status="scheduled", sequence=0,
        last_modified=datetime(2026, 12, 1, 8, 30, tzinfo=UTC), room_id=None,
        video_url="https://video.example.org/" + "very-long-path/" * 6, facilitator_ids=("t",),
        make_up_for=None,
    )  # fmt: skip
    return CalendarEntry(**{**vars(base), **changes})  # type: ignore[arg-type]


def reference(entries: list[CalendarEntry], name: str) -> bytes:
    calendar = Calendar()
    for prop, value in (
        ("PRODID", ical.PRODID), ("VERSION", "2.0"), ("CALSCALE", "GREGORIAN"),
        ("X-WR-CALNAME", name),
    ):  # fmt: skip
        calendar.add(prop, value)
    calendar.add("REFRESH-INTERVAL", ical.REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(ical.REFRESH))
    years: dict[str, list[int]] = {}
    for e in entries:
        years.setdefault(e.timezone, []).extend([e.starts_at.year, e.ends_at.year])
    for tzid in sorted(years):
        calendar.add_component(ical.vtimezone(tzid, min(years[tzid]), max(years[tzid])))
    for e in sorted(entries, key=lambda e: e.starts_at):
        calendar.add_component(ical._event(e))
    body: bytes = calendar.to_ical()
    return body


def test_render_equals_icalendar_serialising_the_whole_calendar() -> None:
    entries = [
        entry(1, "Australia/Sydney", datetime(2027, 3, 30, 18)),  # DST ends in April there
        entry(2, "Australia/Sydney", datetime(2028, 4, 6, 18), status="cancelled", sequence=2),
        entry(3, "America/Sao_Paulo", datetime(2027, 5, 1, 9), room_id="room-á"),
    ]
    body = ical.render(entries, "Group sessions")
    assert body == reference(entries, "Group sessions")
    parsed = parse(body)
    assert len(parsed.vevents) == 3
    assert ical.render(list(reversed(entries))) == body  # order of rows does not matter
    hybrid = {str(e["UID"]): e for e in parsed.events}[f"{UUID(int=3)}@circles"]
    assert str(hybrid["LOCATION"]) == "room-á" and "Join online" in str(hybrid["DESCRIPTION"])


def test_an_empty_feed_is_still_a_valid_calendar() -> None:
    parsed = parse(ical.render([]))
    assert parsed.events == [] and len(parsed.ical.walk("VTIMEZONE")) == 1


def test_window_moves_once_a_day() -> None:
    a = ical.window(datetime(2027, 1, 4, 0, 1, tzinfo=UTC))
    b = ical.window(datetime(2027, 1, 4, 23, 59, tzinfo=UTC))
    assert a == b and a[0] == datetime(2026, 10, 6, tzinfo=UTC)
    assert a[1] == datetime(2028, 2, 8, tzinfo=UTC)
