"""Advance cancellations (SPEC §2): told before the session, excused or late_cancel by the
group's late-cancel window, overridden by a later correction, dropped when the clinic
cancels the session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.application import Circles
from domain.errors import DuplicateError, InvalidInputError, NotFoundError, WrongStateError
from domain.session import advance_cancellation_status
from domain.values import AttendanceStatus
from tests.conftest import Clock
from tests.domain.helpers import FEES, make_group, plan

NY = ZoneInfo("America/New_York")
EXCUSED, LATE_CANCEL = AttendanceStatus.EXCUSED, AttendanceStatus.LATE_CANCEL
# Session 1 of the helpers' plan: Tuesday 2027-03-02 18:00 in New York (23:00 UTC).
S1_START = datetime(2027, 3, 2, 18, 0, tzinfo=NY)


@pytest.fixture
def group(app: Circles, clock: Clock) -> dict:
    gid = make_group(app, min_size=2)
    sessions = plan(app, gid)
    enrollments = {p: app.enroll(gid, "coord-1", p, f"Patient {p}")[0] for p in ("p1", "p2")}
    clock.set(datetime(2027, 2, 26, 12, 0, tzinfo=UTC))
    return {"id": gid, "sessions": sessions, "enrollments": enrollments}


def test_advance_cancellation_status_is_late_cancel_only_inside_the_window() -> None:
    start = S1_START
    assert advance_cancellation_status(start - timedelta(hours=24), start, 24) is EXCUSED
    assert advance_cancellation_status(start - timedelta(hours=30), start, 24) is EXCUSED
    assert advance_cancellation_status(start - timedelta(hours=23, minutes=59), start, 24) is (
        LATE_CANCEL
    )
    assert advance_cancellation_status(start - timedelta(minutes=1), start, 24) is LATE_CANCEL
    # No window: any notice before the session excuses.
    assert advance_cancellation_status(start - timedelta(minutes=1), start, 0) is EXCUSED


def test_advance_cancellation_window_is_measured_in_absolute_time_across_a_clock_change() -> None:
    # Sunday 2027-03-14 18:00 EDT; the clocks went forward at 02:00 that morning. 18:00 the
    # day before (EST) is only 23 real hours ahead; 17:00 is the full 24.
    start = datetime(2027, 3, 14, 18, 0, tzinfo=NY)
    assert advance_cancellation_status(datetime(2027, 3, 13, 18, 0, tzinfo=NY), start, 24) is (
        LATE_CANCEL
    )
    assert advance_cancellation_status(datetime(2027, 3, 13, 17, 0, tzinfo=NY), start, 24) is (
        EXCUSED
    )


def test_advance_cancellation_becomes_excused_or_late_cancel_by_the_group_window(
    app: Circles, clock: Clock, group: dict
) -> None:
    s1 = group["sessions"][0]
    clock.set(datetime(2027, 3, 2, 12, 0, tzinfo=UTC))
    session, status = app.record_advance_cancellation(s1, "coord-1", "p1", "2027-03-01T18:00")
    assert status is EXCUSED  # exactly 24 hours' notice is enough
    session, status = app.record_advance_cancellation(s1, "coord-1", "p2", "2027-03-01T18:01")
    assert status is LATE_CANCEL
    session = app.get_session(s1)
    assert session.cancellations == {
        "p1": (datetime(2027, 3, 1, 18, 0, tzinfo=NY), EXCUSED),
        "p2": (datetime(2027, 3, 1, 18, 1, tzinfo=NY), LATE_CANCEL),
    }
    assert session.attendance_by_patient == {"p1": EXCUSED, "p2": LATE_CANCEL}
    assert session.attendance == {}  # nothing recorded at the session yet
    # The patient's record (what the at-risk rule reads) has it too.
    enrollment = app.get_enrollment(group["enrollments"]["p2"])
    assert enrollment.attendance[str(s1)][1] is LATE_CANCEL
    # An explicit offset is converted to the group's zone.
    s2 = group["sessions"][1]
    _, status = app.record_advance_cancellation(s2, "coord-1", "p1", "2027-03-01T23:00:00+00:00")
    assert status is EXCUSED and app.get_session(s2).cancellations["p1"][0].tzinfo == NY


def test_advance_cancellation_window_is_the_one_in_force_at_the_session(
    app: Circles, clock: Clock
) -> None:
    gid = make_group(app, fees={**FEES, "late_cancel_window_hours": 48})
    s1 = plan(app, gid)[0]
    app.enroll(gid, "coord-1", "p1", "Ann")
    clock.set(datetime(2027, 3, 1, 12, 0, tzinfo=UTC))
    _, status = app.record_advance_cancellation(s1, "coord-1", "p1", "2027-02-28T20:00")
    assert status is LATE_CANCEL  # 46 hours ahead, inside 48


def test_advance_cancellation_is_refused_once_the_session_has_started(
    app: Circles, clock: Clock, group: dict
) -> None:
    s1 = group["sessions"][0]
    clock.set(S1_START.astimezone(UTC))
    with pytest.raises(WrongStateError, match="has started"):
        app.record_advance_cancellation(s1, "coord-1", "p1", "2027-03-02T12:00")
    assert app.get_session(s1).cancellations == {}


def test_advance_cancellation_is_refused_for_a_cancelled_session(app: Circles, group: dict) -> None:
    s1 = group["sessions"][0]
    app.cancel_session(s1, "coord-1", "snow day")
    with pytest.raises(WrongStateError, match="cancelled"):
        app.record_advance_cancellation(s1, "coord-1", "p1", "2027-02-26T08:00")


def test_advance_cancellation_is_refused_for_a_patient_not_enrolled_at_the_session(
    app: Circles, clock: Clock, group: dict
) -> None:
    s1 = group["sessions"][0]
    app.withdraw(group["enrollments"]["p1"], "coord-1", reason="moved away")
    with pytest.raises(WrongStateError, match="was not enrolled"):
        app.record_advance_cancellation(s1, "coord-1", "p1", "2027-02-26T08:00")
    with pytest.raises(NotFoundError, match="not in this session.s group"):
        app.record_advance_cancellation(s1, "coord-1", "stranger", "2027-02-26T08:00")
    full = make_group(app, name="Full", max_size=1, min_size=1, room_id="room-9",
                      facilitator_ids=["t-bo"])  # fmt: skip
    f1 = plan(app, full)[0]
    app.enroll(full, "coord-1", "p5", "Seated")
    app.enroll(full, "coord-1", "p6", "Waiting")  # waitlisted: not enrolled at the session
    with pytest.raises(WrongStateError, match="was not enrolled"):
        app.record_advance_cancellation(f1, "coord-1", "p6", "2027-02-26T08:00")


def test_advance_cancellation_refuses_bad_or_future_told_at_and_a_second_call(
    app: Circles, clock: Clock, group: dict
) -> None:
    s1 = group["sessions"][0]
    for bad in ("yesterday", "2027-02-30T10:00", None, 17, "0001-01-01T00:30", "1999-12-31T10:00"):
        with pytest.raises(InvalidInputError) as caught:
            app.record_advance_cancellation(s1, "coord-1", "p1", bad)
        assert caught.value.field == "told_at"
    with pytest.raises(InvalidInputError, match="future") as caught:
        app.record_advance_cancellation(s1, "coord-1", "p1", "2027-02-27T09:00")
    assert caught.value.field == "told_at"
    app.record_advance_cancellation(s1, "coord-1", "p1", "2027-02-26T06:00")
    # The first notice stands: calling again later cannot turn excused into late_cancel.
    clock.set(S1_START.astimezone(UTC) - timedelta(hours=2))
    with pytest.raises(DuplicateError, match="already cancelled"):
        app.record_advance_cancellation(s1, "coord-1", "p1", "2027-03-02T15:00")
    assert app.get_session(s1).cancellations["p1"][1] is EXCUSED


def test_advance_cancellation_is_overridden_by_a_later_attendance_correction(
    app: Circles, clock: Clock, group: dict
) -> None:
    s1 = group["sessions"][0]
    app.record_advance_cancellation(s1, "coord-1", "p1", "2027-02-26T06:00")
    clock.set(S1_START.astimezone(UTC) + timedelta(minutes=20))
    # They came after all.
    app.record_attendance(s1, "t-ana", [{"patient_id": "p1", "status": "late"}])
    session = app.get_session(s1)
    assert session.attendance_by_patient == {"p1": AttendanceStatus.LATE}
    recorded = [e for e in app.history(s1) if type(e).__name__ == "AttendanceRecorded"]
    assert [(e.status, e.previous) for e in recorded] == [(AttendanceStatus.LATE, EXCUSED)]
    enrollment = app.get_enrollment(group["enrollments"]["p1"])
    assert enrollment.attendance[str(s1)][1] is AttendanceStatus.LATE
    # Recording what the cancellation already said changes nothing.
    app.record_advance_cancellation(group["sessions"][1], "coord-1", "p2", "2027-02-26T06:00")
    clock.set(datetime(2027, 3, 9, 23, 30, tzinfo=UTC))
    before = app.get_session(group["sessions"][1]).version
    app.record_attendance(
        group["sessions"][1], "t-ana", [{"patient_id": "p2", "status": "excused"}]
    )
    assert app.get_session(group["sessions"][1]).version == before


def test_advance_cancellation_leaves_the_session_movable_and_goes_when_the_clinic_cancels(
    app: Circles, clock: Clock, group: dict
) -> None:
    s = group["sessions"]
    app.record_advance_cancellation(s[1], "coord-1", "p1", "2027-02-26T06:00")
    # The clinic may still move the session (nothing was recorded at it)...
    app.reschedule_session(s[1], "coord-1", "2027-03-10T18:00", "room repairs")
    assert app.get_session(s[1]).cancellations["p1"][1] is EXCUSED
    # The patient's record follows the new time (it orders the at-risk rule).
    noted = app.get_enrollment(group["enrollments"]["p1"]).attendance[str(s[1])]
    assert noted == (datetime(2027, 3, 10, 18, 0, tzinfo=NY), EXCUSED)
    # ...or cancel it: nobody is excused from a session that does not take place.
    app.cancel_session(s[1], "coord-1", "snow day")
    assert app.get_session(s[1]).cancellations == {}
    enrollment = app.get_enrollment(group["enrollments"]["p1"])
    assert str(s[1]) not in enrollment.attendance
    # So absent, (cancelled session), absent is two no-shows in a row.
    clock.set(datetime(2027, 3, 17, 12, 0, tzinfo=UTC))
    for sid in (s[0], s[2]):
        app.record_attendance(sid, "t-ana", [{"patient_id": "p1", "status": "absent"}])
    assert app.get_enrollment(group["enrollments"]["p1"]).at_risk


def test_a_late_cancel_between_two_absences_is_not_two_no_shows_in_a_row(
    app: Circles, clock: Clock, group: dict
) -> None:
    s = group["sessions"]
    clock.set(datetime(2027, 3, 9, 12, 0, tzinfo=UTC))
    app.record_attendance(s[0], "t-ana", [{"patient_id": "p1", "status": "absent"}])
    app.record_advance_cancellation(s[1], "coord-1", "p1", "2027-03-09T06:00")
    clock.set(datetime(2027, 3, 17, 12, 0, tzinfo=UTC))
    app.record_attendance(s[2], "t-ana", [{"patient_id": "p1", "status": "absent"}])
    assert not app.get_enrollment(group["enrollments"]["p1"]).at_risk
