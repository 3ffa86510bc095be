"""Cached aggregates: working copies are independent, a failed command leaves the cache as it
was, and a cache-first command never decides on a stale read (several processes, one store)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from domain.application import Circles
from domain.enrollment import enrollment_id
from domain.errors import NotFoundError, StaleVersionError
from domain.repository import CirclesRepository, working_copy
from domain.session import TherapySession
from domain.values import AttendanceStatus
from projections.store import StoreSettings
from tests.conftest import Clock
from tests.domain.helpers import make_group, plan

PRESENT, ABSENT, LATE = AttendanceStatus.PRESENT, AttendanceStatus.ABSENT, AttendanceStatus.LATE


def cached_app(store: StoreSettings, clock: Clock) -> Circles:
    """An application as the web process runs it: with the aggregate cache."""
    return Circles(env={**store.eventsourcing_env(), "AGGREGATE_CACHE_MAXSIZE": "100"}, clock=clock)


@pytest.fixture
def two(durable_store: StoreSettings, clock: Clock) -> Iterator[tuple[Circles, Circles, UUID]]:
    """Two processes' applications on one store, and a started session of a group of two."""
    one, other = cached_app(durable_store, clock), cached_app(durable_store, clock)
    gid = make_group(one, min_size=1)
    first = plan(one, gid, count=2)[0]
    for patient in ("p1", "p2"):
        one.enroll(gid, "coord-1", patient, f"Patient {patient}")
    clock.set(one.get_session(first).starts_at.astimezone(UTC) + timedelta(minutes=5))
    yield one, other, first
    one.close()
    other.close()


def record(app: Circles, session_id: UUID, **statuses: AttendanceStatus) -> TherapySession:
    records = [{"patient_id": p, "status": s.value} for p, s in statuses.items()]
    return app.record_attendance(session_id, "coord-1", records)


def in_cache(app: Circles, aggregate_id: UUID) -> TherapySession:
    assert isinstance(app.repository, CirclesRepository) and app.repository.cache
    found = app.repository.cache.get(aggregate_id)
    assert isinstance(found, TherapySession)
    return found


def test_a_working_copy_and_its_original_change_independently(app: Circles, clock: Clock) -> None:
    gid = make_group(app, min_size=1)
    sid = plan(app, gid, count=1)[0]
    eid, _ = app.enroll(gid, "coord-1", "p1", "Pat One")
    clock.set(datetime(2027, 3, 3, tzinfo=UTC))
    original = record(app, sid, p1=PRESENT)
    enrollment = app.get_enrollment(eid)
    enrollment.past_periods.append([datetime(2027, 1, 1, tzinfo=UTC), None])

    session_copy, enrollment_copy = working_copy(original), working_copy(enrollment)
    assert session_copy.__dict__ == original.__dict__ and session_copy is not original
    session_copy.record_attendance("p1", ABSENT, "coord-1")
    session_copy.attendance["p9"] = LATE
    session_copy.facilitator_ids.append("t-new")
    enrollment_copy.past_periods[0][1] = datetime(2027, 2, 1, tzinfo=UTC)
    enrollment_copy.attendance.clear()

    assert original.attendance == {"p1": PRESENT} and original.facilitator_ids == ["t-ana"]
    assert original.pending_events == [] and len(session_copy.pending_events) == 1
    assert enrollment.past_periods[0][1] is None and enrollment.attendance
    original.facilitator_ids.append("t-other")
    assert session_copy.facilitator_ids == ["t-ana", "t-new"]
    # Immutable parts are shared, not copied.
    assert session_copy.starts_at is original.starts_at and session_copy.kind is original.kind


def test_a_failed_command_leaves_the_cached_aggregate_as_it_was(
    two: tuple[Circles, Circles, UUID],
) -> None:
    one, _, sid = two
    record(one, sid, p1=PRESENT)
    before = dict(in_cache(one, sid).__dict__)
    with pytest.raises(NotFoundError, match="stranger is not in this session's group"):
        record(one, sid, p2=ABSENT, stranger=PRESENT)  # p2 changed on the copy, then refused
    cached = in_cache(one, sid)
    assert cached.__dict__ == before and cached.attendance == {"p1": PRESENT}
    assert cached.pending_events == []
    assert one.get_session(sid).attendance == {"p1": PRESENT}


def test_a_stale_cached_session_is_caught_by_the_save_and_the_command_rerun(
    two: tuple[Circles, Circles, UUID],
) -> None:
    one, other, sid = two
    record(one, sid, p1=PRESENT)  # one's cache now holds the session with p1
    record(other, sid, p2=ABSENT)  # written by another process: one's cache is stale
    answer = record(one, sid, p1=LATE)
    assert answer.attendance == {"p1": LATE, "p2": ABSENT}
    assert other.get_session(sid).attendance == {"p1": LATE, "p2": ABSENT}
    assert answer.version == other.get_session(sid).version


def test_an_unchanged_cached_read_is_decided_on_a_fresh_one(
    two: tuple[Circles, Circles, UUID],
) -> None:
    one, other, sid = two
    record(one, sid, p1=PRESENT)
    record(other, sid, p1=ABSENT)
    # one's cache still says present, so present would change nothing there; the store says
    # absent, so it must be written.
    answer = record(one, sid, p1=PRESENT)
    assert answer.attendance == {"p1": PRESENT}
    assert other.get_session(sid).attendance == {"p1": PRESENT}
    enrollment = other.get_enrollment(enrollment_id(answer.group_id, "p1"))
    assert enrollment.attendance[str(sid)][1] is PRESENT


def test_if_match_is_checked_against_the_store_not_the_cache(
    two: tuple[Circles, Circles, UUID],
) -> None:
    one, other, sid = two
    record(one, sid, p1=PRESENT)
    current = record(other, sid, p2=ABSENT).version  # one's cache is a version behind
    records = [{"patient_id": "p1", "status": "late"}]
    answer = one.record_attendance(sid, "coord-1", records, expected_version=current)
    assert answer.version == current + 1
    with pytest.raises(StaleVersionError) as refused:
        other.record_attendance(sid, "coord-1", records, expected_version=current)
    assert refused.value.current_version == current + 1


def test_the_scope_check_sees_the_session_before_its_version(
    two: tuple[Circles, Circles, UUID],
) -> None:
    one, _, sid = two
    seen: list[UUID] = []

    def out_of_scope(session: TherapySession) -> None:
        seen.append(session.id)
        raise NotFoundError(f"no session with id {session.id}")

    records = [{"patient_id": "p1", "status": "present"}]
    with pytest.raises(NotFoundError):
        one.record_attendance(sid, "coord-1", records, expected_version=999, authorize=out_of_scope)
    assert seen and set(seen) == {sid}
    assert one.get_session(sid).attendance == {}
