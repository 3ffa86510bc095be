"""Value objects: the clinical vocabulary, money and time."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.bounds import clean_text, currencies, currency_code
from domain.errors import InvalidInputError

E = TypeVar("E", bound=Enum)


class Modality(Enum):
    IPT = "ipt"
    MIT = "mit"
    DIT = "dit"
    MAINTENANCE = "maintenance"


class ProblemArea(Enum):
    GRIEF = "grief"
    ROLE_DISPUTE = "role_dispute"
    ROLE_TRANSITION = "role_transition"
    INTERPERSONAL_DEFICITS = "interpersonal_deficits"


class Format(Enum):
    IN_PERSON = "in_person"
    ONLINE = "online"
    HYBRID = "hybrid"

    @property
    def needs_room(self) -> bool:
        return self is not Format.ONLINE

    @property
    def needs_video(self) -> bool:
        return self is not Format.IN_PERSON


class GroupStatus(Enum):
    PLANNED = "planned"
    OPEN = "open"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class SessionKind(Enum):
    INTAKE = "intake"
    REGULAR = "regular"
    MAINTENANCE = "maintenance"


class SessionStatus(Enum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Cadence(Enum):
    WEEKLY = "weekly"
    EVERY_N_WEEKS = "every_n_weeks"
    MONTHLY = "monthly"  # the same date each month (the 31st: the month's last day)
    MONTHLY_WEEKDAY = "monthly_weekday"  # the same weekday of the month (the 2nd Tuesday)


class AttendanceStatus(Enum):
    PRESENT = "present"
    LATE = "late"
    ABSENT = "absent"
    EXCUSED = "excused"
    LATE_CANCEL = "late_cancel"


class EnrollmentStatus(Enum):
    ENROLLED = "enrolled"
    WAITLISTED = "waitlisted"
    WITHDRAWN = "withdrawn"
    COMPLETED = "completed"


class InvitationStatus(Enum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    CONSENTED = "consented"
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    REVOKED = "revoked"
    CANCELLED = "cancelled"

    @property
    def holds_a_place(self) -> bool:
        """Accepted or still pending: counts against the session's guest limit."""
        return self in _PLACE_HOLDING


_PLACE_HOLDING = {
    InvitationStatus.PROPOSED,
    InvitationStatus.APPROVED,
    InvitationStatus.CONSENTED,
    InvitationStatus.SENT,
    InvitationStatus.ACCEPTED,
}


class ResourceKind(Enum):
    THERAPIST = "therapist"
    ROOM = "room"


def parse_enum(enum: type[E], value: Any, field_name: str) -> E:
    """Accept an enum member or its value; refuse anything else with the allowed values."""
    if isinstance(value, enum):
        return value
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum)
        raise InvalidInputError(
            f"{field_name} must be one of: {allowed} (got {value!r})", field=field_name
        ) from None


# --- time -------------------------------------------------------------------------------------


def zone(name: str, field_name: str = "timezone") -> ZoneInfo:
    """A stored zone name's zone, or a clear error naming the bad value. A zone from a
    request is checked by ``domain.bounds.canonical_zone`` (canonical names only)."""
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        raise InvalidInputError(f"{name!r} is not an IANA time zone", field=field_name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInputError(
            f"{name!r} is not an IANA time zone (e.g. 'Europe/Berlin')", field=field_name
        ) from None


def localize(naive: datetime, tz: ZoneInfo, field_name: str = "starts_at") -> datetime:
    """Attach a zone to a wall-clock time, refusing times that do not exist that day.

    On the night clocks go forward a wall-clock time like 02:30 is skipped; a session
    cannot start then. On the night clocks go back, the first occurrence is used.
    """
    if naive.tzinfo is not None:
        return naive.astimezone(tz)
    aware = naive.replace(tzinfo=tz, fold=0)
    round_trip = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != naive:
        raise InvalidInputError(
            f"{naive:%H:%M} does not exist on {naive:%Y-%m-%d} in {tz.key} "
            "(the clocks go forward that night); choose another time",
            field=field_name,
        )
    return aware


def instant(moment: datetime) -> datetime:
    """The moment in UTC. Two times in the same ``ZoneInfo`` compare by wall clock and
    ignore ``fold``, so every comparison of session times goes through this."""
    return moment.astimezone(UTC)


def add_elapsed(start: datetime, duration: timedelta) -> datetime:
    """``start`` plus real elapsed time, in ``start``'s zone.

    ``start + duration`` on a zoned time adds wall-clock time: across a clock change it is
    an hour off. Adding in UTC and converting back also sets ``fold`` in the repeated hour.
    """
    return (instant(start) + duration).astimezone(start.tzinfo)


# --- money ------------------------------------------------------------------------------------


def minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currencies().get(currency, 2))


def money(value: Any, currency: str, field_name: str) -> Decimal:
    """An exact, non-negative amount in the currency's minor unit. Floats are refused."""
    if isinstance(value, float | bool):
        raise InvalidInputError(
            f"{field_name} must be a decimal string such as '85.00', not a float",
            field=field_name,
        )
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise InvalidInputError(
            f"{field_name} must be a decimal amount such as '85.00' (got {value!r})",
            field=field_name,
        ) from None
    if not amount.is_finite():
        raise InvalidInputError(f"{field_name} must be a finite amount", field=field_name)
    if amount < 0:
        raise InvalidInputError(f"{field_name} cannot be negative (got {value})", field=field_name)
    unit = minor_unit(currency)
    quantized = amount.quantize(unit)
    if quantized != amount:
        raise InvalidInputError(
            f"{field_name} has more decimal places than {currency} allows (got {value})",
            field=field_name,
        )
    if quantized >= Decimal("1e9"):
        raise InvalidInputError(f"{field_name} is implausibly large ({value})", field=field_name)
    return quantized


DEFAULT_BILLING_CODE = "90853"  # CPT: group psychotherapy


@dataclass(frozen=True)
class FeeSchedule:
    """What a group charges. Amounts are exact decimals in the group's currency."""

    currency: str
    session_fee: Decimal
    maintenance_fee: Decimal
    no_show_fee: Decimal
    late_cancel_fee: Decimal
    late_cancel_window_hours: int = 24
    billing_codes: dict[str, str] = field(
        default_factory=lambda: {k.value: DEFAULT_BILLING_CODE for k in SessionKind}
    )

    @classmethod
    def parse(cls, currency: Any, fees: Any) -> FeeSchedule:
        code = currency_code(currency)
        if not isinstance(fees, dict):
            raise InvalidInputError("fees must be an object of amounts", field="fees")
        amounts = {}
        for name in ("session_fee", "maintenance_fee", "no_show_fee", "late_cancel_fee"):
            if name not in fees:
                raise InvalidInputError(f"fees.{name} is required", field=f"fees.{name}")
            amounts[name] = money(fees[name], code, f"fees.{name}")
        window = fees.get("late_cancel_window_hours", 24)
        if isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= 720:
            raise InvalidInputError(
                "fees.late_cancel_window_hours must be a whole number of hours from 0 to 720",
                field="fees.late_cancel_window_hours",
            )
        codes = {k.value: DEFAULT_BILLING_CODE for k in SessionKind}
        given = fees.get("billing_codes") or {}
        if not isinstance(given, dict):
            raise InvalidInputError("fees.billing_codes must be an object", field="fees")
        for kind, billing_code in given.items():
            parse_enum(SessionKind, kind, "fees.billing_codes")
            codes[kind] = clean_text(billing_code, f"fees.billing_codes.{kind}", 20)
        return cls(currency=code, late_cancel_window_hours=window, billing_codes=codes, **amounts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "session_fee": self.session_fee,
            "maintenance_fee": self.maintenance_fee,
            "no_show_fee": self.no_show_fee,
            "late_cancel_fee": self.late_cancel_fee,
            "late_cancel_window_hours": self.late_cancel_window_hours,
            "billing_codes": dict(self.billing_codes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeeSchedule:
        return cls(**data)

    def charge(
        self, kind: SessionKind, status: AttendanceStatus | None, session_cancelled: bool
    ) -> Decimal:
        """What one patient owes for one session (SPEC §2, Costs)."""
        zero = Decimal(0).quantize(minor_unit(self.currency))
        if session_cancelled or status is None:
            return zero
        if status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE):
            return self.maintenance_fee if kind is SessionKind.MAINTENANCE else self.session_fee
        if status is AttendanceStatus.ABSENT:
            return self.no_show_fee
        if status is AttendanceStatus.LATE_CANCEL:
            return self.late_cancel_fee
        return zero

    def billing_code(self, kind: SessionKind) -> str:
        return self.billing_codes.get(kind.value, DEFAULT_BILLING_CODE)


@dataclass(frozen=True)
class FeePeriod:
    """A fee schedule and the instant from which it applies (None: from the start)."""

    effective_from: datetime | None
    fees: FeeSchedule


def fee_in_force(periods: list[FeePeriod], session_start: datetime) -> FeeSchedule:
    """The schedule for a session: the latest change made before the session starts."""
    chosen = periods[0].fees
    for period in periods:
        if period.effective_from is None or instant(period.effective_from) < instant(session_start):
            chosen = period.fees
    return chosen


def parse_date(value: Any, field_name: str) -> date:
    if isinstance(value, datetime):
        raise InvalidInputError(f"{field_name} must be a date, not a date-time", field=field_name)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"{field_name} must be a date like 2027-03-14 (got {value!r})", field=field_name
        ) from None


def parse_time(value: Any, field_name: str) -> time:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{2}:\d{2}", value):
        raise InvalidInputError(
            f"{field_name} must be a local time like 18:00 (got {value!r})", field=field_name
        )
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(f"{value!r} is not a valid time of day", field=field_name) from None
