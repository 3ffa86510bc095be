"""Session plans: from a first date, a local start time and a cadence to zoned start times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import MONTHLY, WEEKLY, rrule, weekday, weekdays

from domain.bounds import date_within_bounds, within_bounds
from domain.errors import InvalidInputError
from domain.schedule import Collision
from domain.values import Cadence, SessionKind, localize, parse_date, parse_enum, parse_time

MAX_SESSIONS_PER_PLAN = 104
MAX_DURATION_MINUTES = 8 * 60


@dataclass(frozen=True)
class PlannedDate:
    """A local date of a plan, and the closures that pushed the course past them to it."""

    day: date
    pushed_past: tuple[date, ...] = ()


@dataclass(frozen=True)
class SessionPlan:
    first_date: date
    start_time: time
    duration_minutes: int
    cadence: Cadence
    count: int
    interval: int = 1
    skip_dates: frozenset[date] = frozenset()

    @classmethod
    def parse(
        cls,
        first_date: Any,
        start_time: Any,
        duration_minutes: Any,
        cadence: Any,
        count: Any,
        interval: Any = None,
        skip_dates: Any = (),
        kind: SessionKind = SessionKind.REGULAR,
    ) -> SessionPlan:
        cad = default_cadence(kind) if cadence is None else parse_enum(Cadence, cadence, "cadence")
        if cad is Cadence.EVERY_N_WEEKS:
            if interval is None:
                raise InvalidInputError("cadence every_n_weeks needs an interval", field="interval")
            step = whole(interval, "interval", 1, 12)
        elif interval not in (None, 1):
            raise InvalidInputError(
                "interval is only used with cadence every_n_weeks", field="interval"
            )
        else:
            step = 1
        skips = frozenset(
            date_within_bounds(parse_date(d, "skip_dates"), "skip_dates")
            for d in (skip_dates or ())
        )
        return cls(
            first_date=date_within_bounds(parse_date(first_date, "first_date"), "first_date"),
            start_time=parse_time(start_time, "start_time"),
            duration_minutes=whole(duration_minutes, "duration_minutes", 15, MAX_DURATION_MINUTES),
            cadence=cad,
            count=whole(count, "count", 1, MAX_SESSIONS_PER_PLAN),
            interval=step,
            skip_dates=skips,
        )

    def local_dates(self) -> list[date]:
        """`count` dates on the cadence; a closure date pushes the course one step later."""
        return [planned.day for planned in self.schedule()]

    def schedule(self) -> list[PlannedDate]:
        """The plan's dates, each with the closures on the cadence skipped just before it
        (the closures that pushed the course to this date)."""
        wanted: list[PlannedDate] = []
        skipped: list[date] = []
        limit = self.count + len(self.skip_dates)
        for candidate in self._candidates(limit):
            if candidate in self.skip_dates:
                skipped.append(candidate)
                continue
            wanted.append(PlannedDate(candidate, tuple(skipped)))
            skipped = []
            if len(wanted) == self.count:
                break
        return wanted

    def starts(self, tz: ZoneInfo, field: str = "first_date") -> list[datetime]:
        """Zoned start times. The wall-clock time is kept across DST changes; each lies
        within the input bounds (a plan that runs past them is refused, naming ``field``)."""
        return [
            within_bounds(localize(datetime.combine(d, self.start_time), tz, "start_time"), field)
            for d in self.local_dates()
        ]

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def weekday_of_month(self) -> weekday:
        """The first date's weekday and its place in the month: TU(+2) for the 2nd Tuesday.

        A 5th weekday exists in only some months, and it is always the month's last one:
        it is read as the last (TU(-1)), so the course goes on every month.
        """
        nth = (self.first_date.day - 1) // 7 + 1
        return weekdays[self.first_date.weekday()](-1 if nth == 5 else nth)

    def _candidates(self, limit: int) -> list[date]:
        if self.cadence is Cadence.MONTHLY:
            # relativedelta clamps the 31st to the month's last day instead of skipping months.
            return [self.first_date + relativedelta(months=i) for i in range(limit)]
        start = datetime.combine(self.first_date, time())
        if self.cadence is Cadence.MONTHLY_WEEKDAY:
            rule = rrule(MONTHLY, byweekday=self.weekday_of_month, dtstart=start, count=limit)
        else:
            rule = rrule(WEEKLY, interval=self.interval, dtstart=start, count=limit)
        return [d.date() for d in rule]


def default_cadence(kind: SessionKind) -> Cadence:
    """Maintenance sessions are monthly by default (SPEC §2); course sessions weekly."""
    return Cadence.MONTHLY if kind is SessionKind.MAINTENANCE else Cadence.WEEKLY


def whole(value: Any, field_name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(
            f"{field_name} must be a whole number from {low} to {high} (got {value!r})",
            field=field_name,
        )
    return value


@dataclass(frozen=True)
class PlannedSession:
    """One session a plan would create, as the plan command would create it."""

    number: int
    kind: SessionKind
    starts_at: datetime
    ends_at: datetime
    pushed_past: tuple[date, ...]  # closures on the cadence skipped just before it
    clock_change: bool  # its UTC offset differs from the session before it (a DST change)
    collisions: tuple[Collision, ...]


@dataclass(frozen=True)
class PlanPreview:
    """What a plan would do, computed by the plan command's own code, nothing saved."""

    timezone: str
    sessions: tuple[PlannedSession, ...]
    closures_unused: tuple[date, ...]  # closure dates off the cadence: they push nothing
    course_problem: str | None  # why the plan command would refuse the course length

    @property
    def collisions(self) -> list[Collision]:
        return [c for s in self.sessions for c in s.collisions]

    @property
    def closures_pushed(self) -> list[date]:
        return [d for s in self.sessions for d in s.pushed_past]
