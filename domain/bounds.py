"""Input bounds (SPEC §5): what any value from outside must satisfy before it becomes an event.

Every entry point — the JSON API, the pages, the CLI — reaches the domain's commands, and
the commands check here; the marshmallow schemas use the same functions and constants, so a
refusal reads the same whichever door it came through. The point is that an accepted command
yields events every view can apply: no time a calendar cannot hold, no text PostgreSQL or an
iCalendar line cannot carry, no zone or currency that means something else on another host.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from iso4217 import Currency

from domain.errors import InvalidInputError

# --- time -------------------------------------------------------------------------------------

# Every instant the service accepts lies in [EARLIEST, LATEST): sessions, enrollments, consent,
# fee changes, query ranges. Wide enough for any clinic's records, far from the ends of
# ``datetime`` so that an offset, a duration or a feed's time-zone span never overflows.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
EARLIEST_DATE = EARLIEST.date()
LATEST_DATE = LATEST.date()

# A local wall-clock time, seconds and an offset optional: 2027-03-14T18:00, …T18:00:00+01:00.
LOCAL_DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})?$"
_LOCAL_DATETIME = re.compile(LOCAL_DATETIME_PATTERN, re.ASCII)


def _range_message(field: str) -> str:
    return f"{field} must be from {EARLIEST_DATE} to before {LATEST_DATE}"


def within_bounds(moment: datetime, field: str) -> datetime:
    """``moment`` (aware) if it lies in [EARLIEST, LATEST); else a refusal naming ``field``."""
    try:
        inside = EARLIEST <= moment.astimezone(UTC) < LATEST
    except (OverflowError, ValueError):  # year 1 or 9999 pushed off the calendar by an offset
        inside = False
    if not inside:
        raise InvalidInputError(f"{_range_message(field)} (got {moment.isoformat()})", field=field)
    return moment


def date_within_bounds(day: date, field: str) -> date:
    if not EARLIEST_DATE <= day < LATEST_DATE:
        raise InvalidInputError(f"{_range_message(field)} (got {day.isoformat()})", field=field)
    return day


def local_datetime(
    value: Any, tz: tzinfo | str, field: str, *, not_after: datetime | None = None
) -> datetime:
    """A time from a request, as an aware datetime in ``tz`` (the group's zone).

    ``value`` is the group's local wall-clock time ('2026-11-26T10:30') or carries an explicit
    offset ('…T10:30+01:00', converted). A wall-clock time the clocks skip that night is
    refused; in the repeated hour a time without an offset is the first one. The result lies
    within the bounds, and not after ``not_after`` when given (times that record the past).
    """
    zone_info = ZoneInfo(tz) if isinstance(tz, str) else tz
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and _LOCAL_DATETIME.match(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInputError(
                f"{field}: {value!r} is not a real date and time", field=field
            ) from None
    else:
        raise InvalidInputError(
            f"{field} must be a local date-time like 2027-03-14T18:00, optionally with an "
            f"offset (got {value!r})",
            field=field,
        )
    # Refuse far-off years before any zone arithmetic, which would overflow at the ends.
    if not EARLIEST_DATE.year - 1 <= moment.year <= LATEST_DATE.year:
        raise InvalidInputError(f"{_range_message(field)} (got {moment.isoformat()})", field=field)
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = _wall_clock(moment.replace(tzinfo=None), zone_info, field)
    else:
        moment = within_bounds(moment, field).astimezone(zone_info)
    within_bounds(moment, field)
    if not_after is not None and moment > not_after:
        raise InvalidInputError(f"{field} cannot be in the future", field=field)
    return moment


def _wall_clock(naive: datetime, tz: tzinfo, field: str) -> datetime:
    aware = naive.replace(tzinfo=tz, fold=0)
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        name = getattr(tz, "key", str(tz))
        raise InvalidInputError(
            f"{field}: {naive:%H:%M} does not exist on {naive:%Y-%m-%d} in {name} (the clocks "
            "go forward that night); choose another time or give an offset",
            field=field,
        )
    return aware


# --- time zones -------------------------------------------------------------------------------

# Names the tz database keeps for old POSIX-style rules (EST5EDT, CST6CDT, …) and for the
# build itself: they are links or rules, not places, and some differ between hosts.
_LEGACY_ZONES = frozenset(
    {"EST", "MST", "HST", "EST5EDT", "CST6CDT", "MST7MDT", "PST8PDT", "Factory", "localtime"}
)
_NOT_A_PLACE = ("posix/", "right/", "SystemV/")


@cache
def canonical_zones() -> frozenset[str]:
    """The IANA zone names the service accepts: the host's tz database without the
    ``posix/`` and ``right/`` trees (``right/`` counts leap seconds: an hour wrong in
    practice), ``localtime`` (whatever the host is set to), ``Factory`` and the
    ``EST5EDT``-style legacy rules."""
    return frozenset(
        name
        for name in available_timezones()
        if name not in _LEGACY_ZONES and not name.startswith(_NOT_A_PLACE)
    )


def canonical_zone(name: Any, field: str = "timezone") -> ZoneInfo:
    """The zone for a canonical IANA name ('Europe/Berlin', 'UTC'), or a refusal."""
    if not isinstance(name, str) or name not in canonical_zones():
        raise InvalidInputError(
            f"{name!r} is not an IANA time zone this service accepts: use a canonical "
            "name such as 'Europe/Berlin'",
            field=field,
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # listed, yet unreadable on this host
        raise InvalidInputError(f"{name!r} cannot be read on this host", field=field) from None


# --- text -------------------------------------------------------------------------------------

# C0 controls, DEL and C1 controls. A multi-line field allows "\n" (a "\r\n" is read as "\n").
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
# JSON Schema patterns for the same rule (OpenAPI documents them).
TEXT_PATTERN = rf"^[^{CONTROL_CHARACTERS}]*\S[^{CONTROL_CHARACTERS}]*$"
MULTILINE_TEXT_PATTERN = r"^[^\x00-\x09\x0b-\x1f\x7f-\x9f]*\S[^\x00-\x09\x0b-\x1f\x7f-\x9f]*$"

# A clinic identifier (patient, therapist, room): an EHR record number and the like.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$"
_ID = re.compile(ID_PATTERN, re.ASCII)
# A reason (for a cancellation, a withdrawal, an override): the one kind of multi-line text.
REASON_LENGTH = 500
ID_MESSAGE = "must be 1–100 letters, digits or . _ : @ - (starting with a letter or digit)"


def clean_text(value: Any, field: str, max_length: int = 200, multiline: bool = False) -> str:
    """Human text: trimmed, non-empty, at most ``max_length`` characters, no control
    characters (a multi-line field allows line breaks), valid Unicode (no lone surrogates)."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{field} must be a non-empty string", field=field)
    if multiline:
        value = value.replace("\r\n", "\n")
    if (_CONTROL_BUT_NEWLINE if multiline else _CONTROL).search(value):
        allowed = " other than line breaks" if multiline else ""
        raise InvalidInputError(
            f"{field} must not contain control characters{allowed}", field=field
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{field} must be valid Unicode text", field=field) from None
    text = value.strip()
    if not text:
        raise InvalidInputError(f"{field} must be a non-empty string", field=field)
    if len(text) > max_length:
        raise InvalidInputError(f"{field} is longer than {max_length} characters", field=field)
    return text


def is_plain_text(value: str) -> bool:
    """No control characters: what every stored or looked-up string must be."""
    return _CONTROL.search(value) is None


def clean_id(value: Any, field: str) -> str:
    """A clinic identifier: letters, digits and . _ : @ - (spaces around it are dropped)."""
    if isinstance(value, str):
        value = value.strip(" ")  # typed or pasted with spaces around: the same id
        if not value:
            raise InvalidInputError(f"{field} must be a non-empty string", field=field)
        if len(value) > 100:
            raise InvalidInputError(f"{field} is longer than 100 characters", field=field)
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidInputError(f"{field} {ID_MESSAGE} (got {value!r})", field=field)
    return value


# --- money ------------------------------------------------------------------------------------


@cache
def currencies() -> dict[str, int]:
    """ISO 4217 codes a fee can be in, with their minor-unit digits (funds and metals
    without a minor unit, such as XAU or XXX, are not money a clinic charges in)."""
    return {c.code: c.exponent for c in Currency if c.exponent is not None}


CURRENCY_PATTERN = r"^[A-Z]{3}$"


def currency_code(value: Any, field: str = "currency") -> str:
    if not isinstance(value, str) or value not in currencies():
        raise InvalidInputError(
            f"{field} must be an ISO 4217 currency code such as 'EUR' (got {value!r})",
            field=field,
        )
    return value
