"""Feeds under the Flask test client (SQLite and PostgreSQL), parsed by two parsers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import icalendar
import pytest
import vobject

from projections.store import StoreSettings
from tests.conftest import Clock
from tests.service.conftest import Api, make_api


@pytest.fixture
def api(durable_store: StoreSettings, clock: Clock) -> Iterator[Api]:
    yield from make_api(durable_store, clock)


@dataclass
class Parsed:
    """One feed as both parsers see it."""

    body: bytes
    ical: icalendar.Calendar
    vcal: Any  # vobject's VCALENDAR component

    @property
    def events(self) -> list[icalendar.Event]:
        return list(self.ical.walk("VEVENT"))

    @property
    def vevents(self) -> list[Any]:
        return list(getattr(self.vcal, "vevent_list", []))

    def by_uid(self) -> dict[str, icalendar.Event]:
        return {str(e["UID"]): e for e in self.events}


def parse(body: bytes) -> Parsed:
    """Parse with icalendar and, independently, with vobject (validating), and check the
    RFC 5545 rules neither parser enforces: CRLF, folding, a VTIMEZONE per TZID."""
    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b""), "bare LF"
    for line in body.split(b"\r\n"):
        assert len(line) <= 75, f"line longer than 75 octets: {line!r}"
    text = body.decode("utf-8")
    calendar = icalendar.Calendar.from_ical(text)
    assert calendar.get_missing_tzids() == set()
    assert str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    vcal = vobject.readOne(text, validate=True)
    assert vcal.validate(raiseException=True)
    used = {str(e["DTSTART"].params.get("TZID")) for e in calendar.walk("VEVENT")}
    assert used <= {str(z["TZID"]) for z in calendar.walk("VTIMEZONE")}
    for event in calendar.walk("VEVENT"):
        assert "ATTENDEE" not in event and "ORGANIZER" not in event
        for name in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SEQUENCE", "LAST-MODIFIED"):
            assert name in event, name
    parsed = Parsed(body, calendar, vcal)
    assert len(parsed.vevents) == len(parsed.events)
    return parsed
