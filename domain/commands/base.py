"""What every use case needs: loading with version checks, retries, the clock, booking."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording

from domain.admission import Admission, admission
from domain.enrollment import Enrollment, enrollment_id
from domain.errors import ConflictError, InvalidInputError, NotFoundError, StaleVersionError
from domain.group import TherapyGroup
from domain.invitation import Invitation
from domain.schedule import ResourceDay, utc_days
from domain.session import TherapySession
from domain.transcodings import register_all
from domain.values import ResourceKind

A = TypeVar("A", bound=Aggregate)
P = ParamSpec("P")
R = TypeVar("R")

MAX_ATTEMPTS = 40


def retrying(fn: Callable[P, R]) -> Callable[P, R]:
    """Re-run a command from a fresh read when a concurrent writer got there first.

    ``IntegrityError`` means another transaction saved a newer version of one of the
    aggregates this command read; the rules are checked again on the new state.
    """

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(MAX_ATTEMPTS):
            try:
                return fn(*args, **kwargs)
            except IntegrityError:
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise ConflictError("the system is busy with conflicting changes; please try again")

    return wrapper


def as_uuid(value: Any, what: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise NotFoundError(f"no {what} with id {value!r}") from None


def optional_text(value: Any, field: str, max_length: int = 200) -> str | None:
    return None if value is None else text(value, field, max_length)


def text(value: Any, field: str, max_length: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{field} must be a non-empty string", field=field)
    if len(value) > max_length:
        raise InvalidInputError(f"{field} is longer than {max_length} characters", field=field)
    return value.strip()


def project(aggregate: Any, domain_events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its per-event runtime-Protocol
    ``isinstance`` assertion, which costs more than decoding the event on Python 3.11."""
    for domain_event in domain_events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


class CirclesBase(Application[UUID]):
    name = "Circles"
    # A load replays at most 4 events after the last snapshot (SPEC §7 B5); group events
    # are infrequent, so the extra snapshot writes are cheap.
    snapshotting_intervals = {TherapyGroup: 5}

    def __init__(self, env: Any = None, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(env)
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        # Called with the last notification id after every save that recorded events has
        # committed, before the command returns: how a host (the web process's feed cache)
        # learns of this application's writes at once.
        self.on_saved: list[Callable[[int], None]] = []

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        if recordings and self.on_saved:
            last = max(r.notification.id for r in recordings)
            for callback in self.on_saved:
                callback(last)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_all(transcoder)

    # --- loading ------------------------------------------------------------------------------

    def _get(
        self, cls: type[A], aggregate_id: Any, what: str, expected_version: int | None = None
    ) -> A:
        uid = as_uuid(aggregate_id, what)
        try:
            aggregate: Aggregate = self.repository.get(uid, projector_func=project)
        except AggregateNotFoundError:
            raise NotFoundError(f"no {what} with id {uid}") from None
        if not isinstance(aggregate, cls):
            raise NotFoundError(f"no {what} with id {uid}")
        if expected_version is not None and aggregate.version != expected_version:
            raise StaleVersionError(
                f"the {what} has changed since you read it (you had version "
                f"{expected_version}, it is now {aggregate.version}); reload and try again",
                current_version=aggregate.version,
            )
        return aggregate

    def get_group(self, group_id: Any) -> TherapyGroup:
        return self._get(TherapyGroup, group_id, "group")

    def get_session(self, session_id: Any) -> TherapySession:
        return self._get(TherapySession, session_id, "session")

    def sessions_of(self, group: TherapyGroup) -> list[TherapySession]:
        return [self.get_session(sid) for sid in group.session_ids]

    def admission_of(
        self, group: TherapyGroup, at: datetime, sessions: list[TherapySession] | None = None
    ) -> Admission:
        """Whether the group admits newcomers at ``at`` (SPEC §2, closed groups)."""
        if group.admission_closes_after is None:
            return admission(None, (), at)
        found = self.sessions_of(group) if sessions is None else sessions
        return admission(group.admission_closes_after, found, at)

    def history(self, aggregate_id: Any, what: str = "record") -> list[Any]:
        uid = as_uuid(aggregate_id, what)
        events = list(self.events.get(uid))
        if not events:
            raise NotFoundError(f"no {what} with id {uid}")
        return events

    # --- booking therapists and rooms ---------------------------------------------------------

    def _resource_day(
        self, cache: dict[UUID, ResourceDay], kind: ResourceKind, resource_id: str, day: Any
    ) -> ResourceDay:
        rid = ResourceDay.create_id(kind, resource_id, day)
        if rid not in cache:
            try:
                found: Aggregate = self.repository.get(rid, projector_func=project)
                assert isinstance(found, ResourceDay)
                cache[rid] = found
            except AggregateNotFoundError:
                cache[rid] = ResourceDay(kind, resource_id, day)
        return cache[rid]

    @staticmethod
    def _resources(session: TherapySession) -> list[tuple[ResourceKind, str]]:
        keys = [(ResourceKind.THERAPIST, f) for f in session.facilitator_ids]
        if session.room_id:
            keys.append((ResourceKind.ROOM, session.room_id))
        return keys

    def _book(
        self, cache: dict[UUID, ResourceDay], session: TherapySession, group_name: str, actor: str
    ) -> None:
        for kind, resource_id in self._resources(session):
            for day in utc_days(session.starts_at, session.ends_at):
                self._resource_day(cache, kind, resource_id, day).book(
                    session.id,
                    session.starts_at,
                    session.ends_at,
                    session.label(),
                    group_name,
                    actor,
                )

    def _release(self, cache: dict[UUID, ResourceDay], session: TherapySession, actor: str) -> None:
        for kind, resource_id in self._resources(session):
            for day in utc_days(session.starts_at, session.ends_at):
                self._resource_day(cache, kind, resource_id, day).release(session.id, actor)

    def _cancel_session_parts(
        self, session: TherapySession, reason: str, days: dict[UUID, ResourceDay], actor: str
    ) -> list[Aggregate]:
        invitations = [self._get(Invitation, i, "invitation") for i in session.invitation_ids]
        # Patients who cancelled ahead: a session that does not take place leaves no mark
        # on their attendance record (nor on the at-risk rule that reads it).
        excused = [
            self._get(Enrollment, enrollment_id(session.group_id, p), "enrollment")
            for p in session.cancellations
        ]
        self._release(days, session, actor)
        session.cancel(reason, actor)
        for invitation in invitations:
            invitation.cancel_with_session(actor)
        for enrollment in excused:
            enrollment.forget_attendance(session.id, actor)
        return [session, *invitations, *excused]
