"""What every use case needs: loading with version checks, retries, the clock, booking."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Mapper, Recording

from domain.admission import Admission, admission
from domain.bounds import REASON_LENGTH, clean_text
from domain.enrollment import Enrollment, enrollment_id
from domain.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    StaleVersionError,
)
from domain.group import TherapyGroup
from domain.invitation import Invitation
from domain.repository import CirclesRepository
from domain.schedule import ResourceDay, utc_days
from domain.session import TherapySession
from domain.transcodings import register_all
from domain.upcasting import UpcastingMapper
from domain.values import ResourceKind

A = TypeVar("A", bound=Aggregate)
P = ParamSpec("P")
R = TypeVar("R")

MAX_ATTEMPTS = 40

# Aggregates a ``cache_first`` attempt took from the cache; None outside such an attempt.
_CACHED_READS: ContextVar[list[Aggregate] | None] = ContextVar("cached_reads", default=None)


class _Unconfirmed(Exception):
    """A cache-first attempt would save without the store checking every version it read."""


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


def cache_first(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a command first on the aggregates as this process last saw them (no query to ask
    the store whether they changed), and again from fresh reads unless that is known safe.

    Safe means: the save writes a new event on every aggregate read from the cache, so the
    store's optimistic concurrency check (one event per aggregate version) refuses it if any
    was stale, and the command is re-run from a fresh read. Anything else — a refusal by the
    rules, a stale If-Match, a concurrency conflict, or a cached aggregate left unchanged —
    is decided again on fresh reads, so a cached read never decides an answer alone.
    Put it inside ``retrying``.
    """

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _CACHED_READS.set([])
        try:
            return fn(*args, **kwargs)
        except (DomainError, IntegrityError, _Unconfirmed):
            pass
        finally:
            _CACHED_READS.reset(token)
        return fn(*args, **kwargs)

    return wrapper


def as_uuid(value: Any, what: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise NotFoundError(f"no {what} with id {value!r}") from None


def require_version(aggregate: Aggregate, what: str, expected_version: int | None) -> None:
    """If-Match: the client changes what it read, or is told it changed meanwhile."""
    if expected_version is not None and aggregate.version != expected_version:
        raise StaleVersionError(
            f"the {what} has changed since you read it (you had version "
            f"{expected_version}, it is now {aggregate.version}); reload and try again",
            current_version=aggregate.version,
        )


def optional_text(
    value: Any, field: str, max_length: int = 200, multiline: bool = False
) -> str | None:
    return None if value is None else text(value, field, max_length, multiline)


def text(value: Any, field: str, max_length: int = 200, multiline: bool = False) -> str:
    """Human text within the input bounds (SPEC §5): see ``domain.bounds.clean_text``."""
    return clean_text(value, field, max_length, multiline)


def reason_text(value: Any, field: str = "reason") -> str:
    """A reason: up to 500 characters, and the one kind of field that may span lines."""
    return clean_text(value, field, REASON_LENGTH, multiline=True)


def optional_reason(value: Any, field: str) -> str | None:
    return None if value is None else reason_text(value, field)


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

    def construct_mapper(self) -> Mapper[UUID]:
        """The library's mapper, reading stored events of replaced classes as the events
        that replaced them (see domain.upcasting)."""
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=UpcastingMapper
        )

    def construct_repository(self) -> Repository[UUID]:
        """The library's repository, as configured by the environment, copying cached
        aggregates with ``working_copy`` (see domain.repository)."""
        found = super().construct_repository()
        repository = CirclesRepository(
            event_store=found.event_store,
            snapshot_store=found.snapshot_store,
            fastforward=found.fastforward,
            fastforward_skipping=found.fastforward_skipping,
            deepcopy_from_cache=found.deepcopy_from_cache,
        )
        repository.cache = found.cache
        return repository

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        cached = _CACHED_READS.get()
        if cached:
            saved = {id(obj) for obj in objs if isinstance(obj, Aggregate) and obj.pending_events}
            if any(id(aggregate) not in saved for aggregate in cached):
                raise _Unconfirmed
        recordings = super().save(*objs, **kwargs)
        assert isinstance(self.repository, CirclesRepository)
        for obj in objs:
            if isinstance(obj, Aggregate):
                self.repository.remember(obj)
        return recordings

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
        self,
        cls: type[A],
        aggregate_id: Any,
        what: str,
        expected_version: int | None = None,
        fresh: bool = False,
    ) -> A:
        """A command's read: from the cache in a ``cache_first`` attempt unless ``fresh``
        (what the public ``get_*`` reads ask for: their callers decide on what they read
        and save nothing that would check it), else from the store."""
        uid = as_uuid(aggregate_id, what)
        aggregate = None if fresh else self._cached(uid)
        if aggregate is None:
            try:
                aggregate = self.repository.get(uid, projector_func=project)
            except AggregateNotFoundError:
                raise NotFoundError(f"no {what} with id {uid}") from None
        if not isinstance(aggregate, cls):
            raise NotFoundError(f"no {what} with id {uid}")
        require_version(aggregate, what, expected_version)
        return aggregate

    def _cached(self, uid: UUID) -> Aggregate | None:
        """In a ``cache_first`` attempt, the cached aggregate (noted as read), else None."""
        reads = _CACHED_READS.get()
        if reads is None:
            return None
        assert isinstance(self.repository, CirclesRepository)
        found = self.repository.cached(uid)
        if found is not None:
            reads.append(found)
        return found

    def get_group(self, group_id: Any) -> TherapyGroup:
        return self._get(TherapyGroup, group_id, "group", fresh=True)

    def get_session(self, session_id: Any) -> TherapySession:
        return self._get(TherapySession, session_id, "session", fresh=True)

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
        self,
        session: TherapySession,
        reason: str,
        days: dict[UUID, ResourceDay],
        actor: str,
        enrollments: dict[UUID, Enrollment] | None = None,
    ) -> list[Aggregate]:
        """``enrollments``: the ones the caller has loaded and changes too (a group being
        cancelled or completed). Each aggregate must be changed through one object: a second
        copy saved in the same transaction is a stale version, and the retry would fail the
        same way for ever."""
        invitations = [self._get(Invitation, i, "invitation") for i in session.invitation_ids]
        # Patients who cancelled ahead: a session that does not take place leaves no mark
        # on their attendance record (nor on the at-risk rule that reads it).
        loaded = {} if enrollments is None else enrollments
        excused = []
        for patient_id in session.cancellations:
            eid = enrollment_id(session.group_id, patient_id)
            if eid not in loaded:
                loaded[eid] = self._get(Enrollment, eid, "enrollment")
            excused.append(loaded[eid])
        self._release(days, session, actor)
        session.cancel(reason, actor)
        for invitation in invitations:
            invitation.cancel_with_session(actor)
        for enrollment in excused:
            enrollment.forget_attendance(session.id, actor)
        return [session, *invitations, *excused]
