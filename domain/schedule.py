"""Reservations that keep therapists and rooms from being double booked.

A ``ResourceDay`` is an index aggregate: one per therapist or room per UTC day, with a
deterministic id, saved in the same transaction as the session that books it. Two
concurrent bookings of the same resource-day conflict on its version; the loser retries
from a fresh read and then sees the overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import OverlapError
from domain.values import ResourceKind, add_elapsed, instant

_NAMESPACE = uuid5(NAMESPACE_URL, "https://circles.invalid/resource-day")


def utc_days(starts: datetime, ends: datetime) -> list[date]:
    """The UTC days an interval touches; two overlapping intervals share at least one."""
    day = instant(starts).date()
    last = (instant(ends) - timedelta(microseconds=1)).date()
    days = []
    while day <= last:
        days.append(day)
        day += timedelta(days=1)
    return days


@dataclass(frozen=True)
class Collision:
    """Another session that already holds a therapist or room at an overlapping time."""

    kind: ResourceKind
    resource_id: str
    session_id: str
    label: str
    group_name: str
    starts_at: datetime  # in the zone of the session that would collide
    ends_at: datetime

    @property
    def who(self) -> str:
        return "therapist" if self.kind is ResourceKind.THERAPIST else "room"

    @property
    def resource(self) -> str:
        return f"{self.who}:{self.resource_id}"

    def describe(self) -> str:
        return (
            f"{self.who} {self.resource_id} is already booked for session {self.label} of "
            f"group '{self.group_name}' (session id {self.session_id}), "
            f"{self.starts_at:%Y-%m-%d %H:%M %Z} to {self.ends_at:%H:%M %Z}"
        )


class ResourceDay(Aggregate):
    @staticmethod
    def create_id(kind: ResourceKind, resource_id: str, day: date) -> UUID:
        return uuid5(_NAMESPACE, f"{kind.value}:{resource_id}:{day.isoformat()}")

    class Created(Aggregate.Created):
        kind: ResourceKind
        resource_id: str
        day: date

    @event(Created)
    def __init__(self, kind: ResourceKind, resource_id: str, day: date) -> None:
        self.kind = kind
        self.resource_id = resource_id
        self.day = day
        # session id -> booking details
        self.bookings: dict[str, dict[str, Any]] = {}

    def collisions(self, session_id: UUID, starts: datetime, ends: datetime) -> list[Collision]:
        """Every other session booked here that overlaps ``starts``–``ends``."""
        found = []
        for other_id, booking in self.bookings.items():
            if other_id == str(session_id):
                continue
            # In UTC: wall-clock comparison in one zone ignores ``fold`` (the repeated hour).
            if instant(starts) < instant(booking["ends_at"]) and instant(
                booking["starts_at"]
            ) < instant(ends):
                found.append(
                    Collision(
                        kind=self.kind,
                        resource_id=self.resource_id,
                        session_id=other_id,
                        label=booking["label"],
                        group_name=booking["group_name"],
                        starts_at=booking["starts_at"].astimezone(starts.tzinfo),
                        ends_at=booking["ends_at"].astimezone(starts.tzinfo),
                    )
                )
        return found

    def check_free(self, session_id: UUID, starts: datetime, ends: datetime) -> None:
        for collision in self.collisions(session_id, starts, ends):
            raise OverlapError(
                collision.describe(),
                colliding_session_id=collision.session_id,
                resource=collision.resource,
            )

    def book(
        self,
        session_id: UUID,
        starts: datetime,
        ends: datetime,
        label: str,
        group_name: str,
        actor: str,
    ) -> None:
        self.check_free(session_id, starts, ends)
        self._booked(
            session_id=session_id,
            starts_at=starts,
            ends_at=ends,
            label=label,
            group_name=group_name,
            actor=actor,
        )

    class Booked(Aggregate.Event):
        """A session's reservation. Version 2: ``ends_at`` is the real end, after the
        session's duration of elapsed time."""

        class_version = 2
        session_id: UUID
        starts_at: datetime
        ends_at: datetime
        label: str
        group_name: str
        actor: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Version 1 added the duration to the wall clock, so across a clock change the
            # stored end was an hour off. The wall-clock difference is the duration (unless
            # that wall-clock end fell in the skipped hour: then the reservation comes out an
            # hour longer, which refuses more and never double books).
            starts, ends = state["starts_at"], state["ends_at"]
            duration = ends.replace(tzinfo=None) - starts.replace(tzinfo=None)
            state["ends_at"] = add_elapsed(starts, duration)

    @event(Booked)
    def _booked(
        self,
        session_id: UUID,
        starts_at: datetime,
        ends_at: datetime,
        label: str,
        group_name: str,
        actor: str,
    ) -> None:
        self.bookings = {
            **self.bookings,
            str(session_id): {
                "starts_at": starts_at,
                "ends_at": ends_at,
                "label": label,
                "group_name": group_name,
            },
        }

    def release(self, session_id: UUID, actor: str) -> None:
        if str(session_id) in self.bookings:
            self._released(session_id=session_id, actor=actor)

    class Released(Aggregate.Event):
        session_id: UUID
        actor: str

    @event(Released)
    def _released(self, session_id: UUID, actor: str) -> None:
        self.bookings = {k: v for k, v in self.bookings.items() if k != str(session_id)}
