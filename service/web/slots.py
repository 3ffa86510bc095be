"""Clinic hours and the free time of one resource on one day, in absolute time.

Every comparison is made in UTC (``domain.values.instant``): two aware datetimes of the same
``ZoneInfo`` compare by wall clock, ignoring the hour a clock change repeats or skips. A day's
opening and closing are that day's wall-clock times in the clinic's zone, so on the day the
clocks go forward a clinic open 00:00–24:00 has 23 hours, and 25 on the day they go back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.values import instant

_HOURS = re.compile(r"^\s*([0-9]{2}):([0-9]{2})\s*-\s*([0-9]{2}):([0-9]{2})\s*$")


@dataclass(frozen=True)
class ClinicHours:
    """When rooms and therapists may be booked each day, e.g. 08:00–20:00 local time.
    ``closes`` may be 24:00 (midnight at the end of the day)."""

    opens: time
    closes_minutes: int  # minutes after the day's midnight (wall clock), up to 24 * 60

    @classmethod
    def parse(cls, text: str) -> ClinicHours:
        """``"08:00-20:00"``; a ValueError says what is wrong."""
        found = _HOURS.match(text)
        if found is None:
            raise ValueError(f"clinic hours must look like 08:00-20:00, not {text[:40]!r}")
        oh, om, ch, cm = (int(part) for part in found.groups())
        if oh > 23 or om > 59 or cm > 59 or ch > 24 or (ch == 24 and cm):
            raise ValueError(f"clinic hours {text.strip()!r} are not times of day")
        if ch * 60 + cm <= oh * 60 + om:
            raise ValueError(f"clinic hours {text.strip()!r} must close after they open")
        return cls(time(oh, om), ch * 60 + cm)

    @property
    def label(self) -> str:
        closes = divmod(self.closes_minutes, 60)
        return f"{self.opens:%H:%M}–{closes[0]:02d}:{closes[1]:02d}"

    def of(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """That day's opening and closing as aware times in ``zone``."""
        return _wall(day, self.opens, zone), _wall(
            day + timedelta(days=self.closes_minutes // (24 * 60)),
            time(*divmod(self.closes_minutes % (24 * 60), 60)),
            zone,
        )


def _wall(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time in ``zone``. One the clocks skip (02:30 on the night they go from
    02:00 to 03:00) is read with the offset before the change: 03:30 after it."""
    return datetime.combine(day, at, zone).astimezone(UTC).astimezone(zone)


def free_slots(
    day: date,
    zone: ZoneInfo,
    hours: ClinicHours,
    busy: Iterable[tuple[datetime, datetime]],
    shortest: timedelta = timedelta(0),
) -> list[tuple[datetime, datetime]]:
    """The periods of ``day``'s clinic hours (in ``zone``) that no ``busy`` interval
    overlaps and that last at least ``shortest`` (and longer than nothing), in order, as
    aware times in ``zone``. Busy intervals may be in any zone and may overlap each other
    or reach past the day."""
    opens, closes = (instant(t) for t in hours.of(day, zone))
    taken = sorted(
        (max(instant(s), opens), min(instant(e), closes))
        for s, e in busy
        if instant(s) < closes and opens < instant(e)
    )
    found: list[tuple[datetime, datetime]] = []
    cursor = opens
    for start, end in [*taken, (closes, closes)]:
        if start > cursor and start - cursor >= shortest:
            found.append((cursor.astimezone(zone), start.astimezone(zone)))
        cursor = max(cursor, end)
    return found
