"""Attendance: only for started, non-cancelled sessions and patients enrolled at the time."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from domain.application import Circles
from domain.enrollment import two_no_shows_in_a_row
from domain.errors import InvalidInputError, NotFoundError, WrongStateError
from domain.values import AttendanceStatus
from tests.conftest import Clock
from tests.domain.helpers import make_group, plan


@pytest.fixture
def running(app: Circles, clock: Clock) -> dict:
    gid = make_group(app, min_size=2)
    sessions = plan(app, gid, count=12)
    e1, _ = app.enroll(gid, "coord-1", "p1", "Pat One")
    e2, _ = app.enroll(gid, "coord-1", "p2", "Pat Two")
    return {"group": gid, "sessions": sessions, "e1": e1, "e2": e2}


def start_of(app: Circles, session_id) -> None:  # type: ignore[no-untyped-def]
    return app.get_session(session_id).starts_at.astimezone(UTC)


def test_attendance_only_once_the_session_has_started(
    app: Circles, clock: Clock, running: dict
) -> None:
    first = running["sessions"][0]
    with pytest.raises(WrongStateError, match="only once the session has started"):
        app.record_attendance(first, "coord-1", [{"patient_id": "p1", "status": "present"}])
    clock.set(start_of(app, first) + timedelta(minutes=5))
    session = app.record_attendance(first, "t-ana", [{"patient_id": "p1", "status": "present"}])
    assert session.attendance == {"p1": AttendanceStatus.PRESENT}


def test_no_attendance_for_a_cancelled_session(app: Circles, clock: Clock, running: dict) -> None:
    first = running["sessions"][0]
    app.cancel_session(first, "coord-1", "snow day")
    clock.set(start_of(app, first) + timedelta(hours=1))
    with pytest.raises(WrongStateError, match="cancelled"):
        app.record_attendance(first, "coord-1", [{"patient_id": "p1", "status": "present"}])


def test_no_attendance_for_a_patient_not_enrolled_at_the_time(
    app: Circles, clock: Clock, running: dict
) -> None:
    s1, s2 = running["sessions"][:2]
    clock.set(start_of(app, s1) + timedelta(days=1))  # between session 1 and 2
    late, _ = app.enroll(running["group"], "coord-1", "p3", "Late Joiner")
    with pytest.raises(WrongStateError, match="was not enrolled"):
        app.record_attendance(s1, "coord-1", [{"patient_id": "p3", "status": "present"}])
    with pytest.raises(NotFoundError, match="not in this session.s group"):
        app.record_attendance(s1, "coord-1", [{"patient_id": "stranger", "status": "present"}])
    app.withdraw(running["e1"], "coord-1", reason="moved away")
    clock.set(start_of(app, s2) + timedelta(hours=1))
    with pytest.raises(WrongStateError, match="was not enrolled"):
        app.record_attendance(s2, "coord-1", [{"patient_id": "p1", "status": "present"}])
    # Withdrawn after session 1: their attendance there can still be recorded.
    app.record_attendance(s1, "coord-1", [{"patient_id": "p1", "status": "absent"}])
    app.record_attendance(s2, "coord-1", [{"patient_id": "p3", "status": "present"}])


def test_back_dated_enrollment_allows_past_attendance(app: Circles, clock: Clock) -> None:
    gid = make_group(app)
    s1 = plan(app, gid, count=12)[0]
    clock.set(start_of(app, s1) + timedelta(days=20))
    since = start_of(app, s1) - timedelta(days=7)
    app.enroll(gid, "coord-1", "p9", "Moved In", enrolled_since=since)
    app.record_attendance(s1, "coord-1", [{"patient_id": "p9", "status": "late"}])
    with pytest.raises(InvalidInputError, match="future"):
        app.enroll(gid, "coord-1", "p10", "X", enrolled_since=clock.now + timedelta(days=1))


def test_records_set_or_correct_only_the_people_listed(
    app: Circles, clock: Clock, running: dict
) -> None:
    first = running["sessions"][0]
    clock.set(start_of(app, first) + timedelta(hours=2))
    app.record_attendance(
        first,
        "coord-1",
        [
            {"patient_id": "p1", "status": "present"},
            {"patient_id": "p2", "status": "absent"},
        ],
    )
    session = app.record_attendance(first, "coord-1", [{"patient_id": "p2", "status": "excused"}])
    assert session.attendance == {"p1": AttendanceStatus.PRESENT, "p2": AttendanceStatus.EXCUSED}
    corrections = [e for e in app.history(first) if type(e).__name__ == "AttendanceRecorded"]
    assert [(e.patient_id, e.status, e.previous) for e in corrections][-1] == (
        "p2",
        AttendanceStatus.EXCUSED,
        AttendanceStatus.ABSENT,
    )


@pytest.mark.parametrize(
    ("records", "words"),
    [
        ([], "at least one"),
        ([{"patient_id": "p1", "status": "asleep"}], "status must be one of"),
        ([{"status": "present"}], "either a patient_id or an invitation_id"),
        ([{"patient_id": "p1", "invitation_id": "x", "status": "present"}], "either"),
        ([{"patient_id": "p1", "status": "present"}] * 2, "listed twice"),
    ],
)
def test_bad_attendance_records_are_refused_whole(
    app: Circles, clock: Clock, running: dict, records: list, words: str
) -> None:
    first = running["sessions"][0]
    clock.set(start_of(app, first) + timedelta(hours=2))
    with pytest.raises(InvalidInputError, match=words):
        app.record_attendance(first, "coord-1", records)
    assert app.get_session(first).attendance == {}


def test_two_no_shows_in_a_row_flag_the_enrollment_at_risk(
    app: Circles, clock: Clock, running: dict
) -> None:
    s = running["sessions"]
    clock.set(start_of(app, s[3]) + timedelta(hours=2))

    def mark(i: int, status: str) -> None:
        app.record_attendance(s[i], "coord-1", [{"patient_id": "p1", "status": status}])

    mark(0, "absent")
    assert not app.get_enrollment(running["e1"]).at_risk
    mark(1, "present")
    mark(2, "absent")
    assert not app.get_enrollment(running["e1"]).at_risk
    mark(3, "absent")
    assert app.get_enrollment(running["e1"]).at_risk
    # A correction (they were only late to session 4) clears the flag.
    mark(3, "late")
    assert not app.get_enrollment(running["e1"]).at_risk
    # Excused is not a no-show.
    mark(3, "excused")
    assert not app.get_enrollment(running["e1"]).at_risk


@pytest.mark.parametrize(
    ("statuses", "flagged"),
    [
        ([], False),
        (["absent"], False),
        (["absent", "absent"], True),
        (["present", "absent", "absent"], True),
        (["absent", "absent", "present"], False),
        (["absent", "excused", "absent"], False),
        (["absent", "late_cancel", "absent"], False),
        (["late_cancel", "late_cancel"], False),
        (["late", "absent", "absent"], True),
    ],
)
def test_two_no_shows_in_a_row_is_the_at_risk_rule(statuses: list[str], flagged: bool) -> None:
    assert two_no_shows_in_a_row(AttendanceStatus(s) for s in statuses) is flagged
