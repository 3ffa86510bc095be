"""Reservations that keep therapists and rooms from being double booked.

A ``ResourceDay`` is an index aggregate: one per therapist or room per UTC day, with a
deterministic id, saved in the same transaction as the session that books it. Two
concurrent bookings of the same resource-day conflict on its version; the loser retries
from a fresh read and then sees the overlap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import OverlapError
from domain.values import ResourceKind

_NAMESPACE = uuid5(NAMESPACE_URL, "https://circles.invalid/resource-day")


def utc_days(starts: datetime, ends: datetime) -> list[date]:
    """The UTC days an interval touches; two overlapping intervals share at least one."""
    day = starts.astimezone(UTC).date()
    last = (ends - timedelta(microseconds=1)).astimezone(UTC).date()
    days = []
    while day <= last:
        days.append(day)
        day += timedelta(days=1)
    return days


class ResourceDay(Aggregate):
    @staticmethod
    def create_id(kind: ResourceKind, resource_id: str, day: date) -> UUID:
        return uuid5(_NAMESPACE, f"{kind.value}:{resource_id}:{day.isoformat()}")

    @event("Created")
    def __init__(self, kind: ResourceKind, resource_id: str, day: date) -> None:
        self.kind = kind
        self.resource_id = resource_id
        self.day = day
        # session id -> booking details
        self.bookings: dict[str, dict[str, Any]] = {}

    def check_free(self, session_id: UUID, starts: datetime, ends: datetime) -> None:
        for other_id, booking in self.bookings.items():
            if other_id == str(session_id):
                continue
            if starts < booking["ends_at"] and booking["starts_at"] < ends:
                who = "therapist" if self.kind is ResourceKind.THERAPIST else "room"
                local = booking["starts_at"].astimezone(starts.tzinfo)
                raise OverlapError(
                    f"{who} {self.resource_id} is already booked for session "
                    f"{booking['label']} of group '{booking['group_name']}' "
                    f"(session id {other_id}), starting {local:%Y-%m-%d %H:%M}",
                    colliding_session_id=other_id,
                    resource=f"{who}:{self.resource_id}",
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

    @event("Booked")
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

    @event("Released")
    def _released(self, session_id: UUID, actor: str) -> None:
        self.bookings = {k: v for k, v in self.bookings.items() if k != str(session_id)}
