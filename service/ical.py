"""iCalendar (RFC 5545) rendering of calendar view rows, with the ``icalendar`` library.

The body depends only on the rows given: ``DTSTAMP`` and ``LAST-MODIFIED`` are the row's
last change (never "now"), VTIMEZONEs are generated from the zoneinfo database for the
years the sessions span, and properties are serialised in a fixed order. Two requests
with nothing changed in between therefore give byte-identical bodies, which is what makes
a strong ETag and ``304 Not Modified`` meaningful.

Privacy (SPEC §4, minimum necessary): a neutral summary, the room or video link as
location, and nothing else — no group name (it often names the modality), no modality,
problem area, diagnosis, therapist or other patient, and never ``ATTENDEE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import (
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vDuration,
)

from projections.calendars import CalendarEntry

PRODID = "-//Circles//Group therapy sessions//EN"
SUMMARY = "Group session"
CANCELLED_PREFIX = "Cancelled: "
UID_DOMAIN = "circles"
# Calendar clients poll subscriptions; ask for hourly refreshes (RFC 7986, Microsoft).
REFRESH = timedelta(hours=1)
# An empty VCALENDAR has no component, which RFC 5545 does not allow; a UTC VTIMEZONE is
# the smallest valid one.
EMPTY_ZONE = "Etc/UTC"


def uid(entry: CalendarEntry) -> str:
    return f"{entry.session_id}@{UID_DOMAIN}"


# Zone transitions are found by stepping through the range and then bisecting to the
# second; no modern zone changes offset twice within a step.
STEP = timedelta(hours=6)


@dataclass(frozen=True)
class Onset:
    """A moment the zone's offset, daylight flag or abbreviation changes."""

    at: datetime  # UTC
    offset_from: timedelta
    offset_to: timedelta
    name: str
    daylight: bool

    @property
    def local(self) -> datetime:
        """The onset as RFC 5545 writes it: local time in the offset before the change."""
        return (self.at + self.offset_from).replace(tzinfo=None)


def _state(zone: ZoneInfo, at: datetime) -> tuple[timedelta, str, bool]:
    local = at.astimezone(zone)
    return local.utcoffset() or timedelta(0), local.tzname() or "", bool(local.dst())


def onsets(tzid: str, start: datetime, end: datetime) -> list[Onset]:
    """The zone's state at ``start`` (as an onset there) and every change before ``end``."""
    zone = ZoneInfo(tzid)
    offset, name, daylight = _state(zone, start)
    found = [Onset(start, offset, offset, name, daylight)]
    at = start
    while at < end:
        step = min(at + STEP, end)
        if _state(zone, step) != _state(zone, at):
            lo, hi = at, step  # the change happens in (lo, hi]
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if _state(zone, mid) == _state(zone, lo):
                    lo = mid
                else:
                    hi = mid
            before, (offset, name, daylight) = _state(zone, lo)[0], _state(zone, hi)
            found.append(Onset(hi, before, offset, name, daylight))
        at = step
    return found


@lru_cache(maxsize=256)
def vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """The zone's observances from 1 January of ``first_year`` to the end of ``last_year``.

    Narrowed to whole years of the feed's sessions (small, and cacheable). Each observance
    (same offsets, abbreviation and daylight flag) has its first onset as ``DTSTART`` *and*
    every onset, the first included, as ``RDATE``. icalendar's own ``Timezone.from_tzid``
    leaves the first onset out of the ``RDATE``s, and ical.js (Thunderbird, many web
    calendars) then skips the first year's onsets: a feed across a year end showed the
    first autumn's sessions an hour off. The first observance starts at 1 January
    00:00 local with no change (``TZOFFSETFROM`` = ``TZOFFSETTO``), so every session of
    the range falls after an onset. No ``COMMENT``: RFC 5545 does not allow one on a
    VTIMEZONE, and libical's restriction check refuses it.
    """
    zone = ZoneInfo(tzid)
    start = datetime(first_year, 1, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    groups: dict[tuple[timedelta, timedelta, str, bool], list[Onset]] = {}
    for onset in onsets(tzid, start, end):
        key = (onset.offset_from, onset.offset_to, onset.name, onset.daylight)
        groups.setdefault(key, []).append(onset)
    timezone = Timezone()
    timezone.add("TZID", tzid)
    for group in sorted(groups.values(), key=lambda g: g[0].at):
        first = group[0]
        observance = TimezoneDaylight() if first.daylight else TimezoneStandard()
        observance.add("DTSTART", first.local)
        for onset in group:
            observance.add("RDATE", onset.local)
        observance.add("TZNAME", first.name)
        observance.add("TZOFFSETFROM", first.offset_from)
        observance.add("TZOFFSETTO", first.offset_to)
        timezone.add_component(observance)
    return timezone


def _location(entry: CalendarEntry) -> str | None:
    return entry.room_id or entry.video_url


def ambiguous(moment: datetime) -> bool:
    """Whether the local time names two instants (the hour repeated when clocks go back)."""
    return moment.replace(fold=1 - moment.fold).utcoffset() != moment.utcoffset()


def _times(entry: CalendarEntry) -> tuple[datetime, datetime]:
    """Local times with the zone's TZID, or both in UTC if either is in a repeated hour:
    RFC 5545 reads an ambiguous local time as its first occurrence, so a session at 01:10
    after the clocks went back would be read an hour early by every client."""
    if ambiguous(entry.starts_at) or ambiguous(entry.ends_at):
        return entry.starts_at.astimezone(UTC), entry.ends_at.astimezone(UTC)
    return entry.starts_at, entry.ends_at


def _event(entry: CalendarEntry) -> Event:
    cancelled = entry.status == "cancelled"
    changed = entry.last_modified.astimezone(UTC)
    starts, ends = _times(entry)
    event = Event()
    event.add("UID", uid(entry))
    event.add("DTSTAMP", changed)
    event.add("LAST-MODIFIED", changed)
    event.add("SEQUENCE", entry.sequence)
    event.add("DTSTART", starts)
    event.add("DTEND", ends)
    event.add("SUMMARY", (CANCELLED_PREFIX if cancelled else "") + SUMMARY)
    event.add("STATUS", "CANCELLED" if cancelled else "CONFIRMED")
    location = _location(entry)
    if location:
        event.add("LOCATION", location)
    if entry.room_id and entry.video_url:  # hybrid: the room is the place, the link is in reach
        event.add("DESCRIPTION", f"Join online: {entry.video_url}")
    event.add("CLASS", "PRIVATE")
    event.add("TRANSP", "OPAQUE")
    return event


@lru_cache(maxsize=16384)
def _event_bytes(entry: CalendarEntry) -> bytes:
    """One VEVENT, serialised. Rows are immutable values, so a row that has not changed
    since the last render reuses its bytes (icalendar spends ~30 µs per content line)."""
    body: bytes = _event(entry).to_ical()
    return body


@lru_cache(maxsize=512)
def _zone_bytes(tzid: str, first_year: int, last_year: int) -> bytes:
    body: bytes = vtimezone(tzid, first_year, last_year).to_ical()
    return body


@lru_cache(maxsize=16)
def _frame(name: str) -> tuple[bytes, bytes]:
    """The VCALENDAR's opening (with its properties) and closing lines."""
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("X-WR-CALNAME", name)
    calendar.add("REFRESH-INTERVAL", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH))
    whole: bytes = calendar.to_ical()
    end = b"END:VCALENDAR\r\n"
    assert whole.endswith(end)
    return whole[: -len(end)], end


def _spans(entries: Iterable[CalendarEntry]) -> list[tuple[str, int, int]]:
    spans: dict[str, tuple[int, int]] = {}
    for e in entries:
        first, last = e.starts_at.year, e.ends_at.year
        if e.timezone in spans:
            lo, hi = spans[e.timezone]
            first, last = min(first, lo), max(last, hi)
        spans[e.timezone] = (first, last)
    return [(tzid, lo, hi) for tzid, (lo, hi) in sorted(spans.items())]


def render(entries: Sequence[CalendarEntry], name: str = "Group sessions") -> bytes:
    """A VCALENDAR of the given sessions: CRLF line ends, lines folded at 75 octets.

    Assembled from components that icalendar serialised (each one complete and folded),
    so the output is exactly what ``Calendar.to_ical()`` gives for the same components.
    """
    opening, closing = _frame(name)
    parts = [opening]
    spans = _spans(entries) or [(EMPTY_ZONE, 2000, 2000)]
    parts.extend(_zone_bytes(tzid, lo, hi) for tzid, lo, hi in spans)
    ordered = sorted(entries, key=lambda e: (e.starts_at.astimezone(UTC), str(e.session_id)))
    parts.extend(_event_bytes(entry) for entry in ordered)
    parts.append(closing)
    return b"".join(parts)


def window(now: datetime, past_days: int = 90, future_days: int = 400) -> tuple[datetime, datetime]:
    """The sessions a feed shows: from ``past_days`` ago to ``future_days`` ahead.

    Anchored to the start of today (UTC), so the window, and the body, change once a day
    rather than on every request.
    """
    today = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), UTC)
    return today - timedelta(days=past_days), today + timedelta(days=future_days)
