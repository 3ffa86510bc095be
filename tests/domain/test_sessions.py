"""Single sessions: make-up sessions, cancellation, and what each attendance costs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.application import Circles
from domain.errors import CourseLengthError, InvalidInputError, OverlapError, WrongStateError
from domain.values import AttendanceStatus, FeeSchedule, SessionKind
from tests.domain.helpers import FEES, make_group, plan


def test_a_make_up_replaces_a_cancelled_session(app: Circles) -> None:
    gid = make_group(app)
    ids = plan(app, gid, count=16)
    with pytest.raises(WrongStateError, match="is not cancelled"):
        app.add_make_up_session(gid, "coord-1", make_up_for=ids[3], starts_at="2027-06-24T18:00")
    app.cancel_session(ids[3], "coord-1", reason="therapist ill")
    make_up = app.get_session(
        app.add_make_up_session(gid, "coord-1", make_up_for=ids[3], starts_at="2027-06-24T18:00")
    )
    assert make_up.make_up_for == ids[3]
    assert make_up.number == 17 and make_up.kind is SessionKind.REGULAR
    assert make_up.duration_minutes == 90
    assert make_up.starts_at.isoformat() == "2027-06-24T18:00:00-04:00"
    with pytest.raises(WrongStateError, match="already has a make-up"):
        app.add_make_up_session(gid, "coord-1", make_up_for=ids[3], starts_at="2027-06-25T18:00")


def test_a_make_up_books_therapist_and_room_like_any_session(app: Circles) -> None:
    gid = make_group(app)
    ids = plan(app, gid, count=12)
    app.cancel_session(ids[0], "coord-1", reason="snow")
    with pytest.raises(OverlapError):  # onto session 2's slot
        app.add_make_up_session(gid, "coord-1", make_up_for=ids[0], starts_at="2027-03-09T18:30")


def test_a_make_up_cannot_stretch_a_dit_course_past_5_months(app: Circles) -> None:
    gid = make_group(app, modality="dit")
    ids = plan(app, gid, count=16)
    app.cancel_session(ids[5], "coord-1", reason="clinic closed")
    with pytest.raises(CourseLengthError, match="within 5 months"):
        app.add_make_up_session(gid, "coord-1", make_up_for=ids[5], starts_at="2027-09-01T18:00")


def test_an_explicit_offset_is_converted_to_the_group_zone(app: Circles) -> None:
    gid = make_group(app)
    sid = plan(app, gid, count=12)[0]
    moved = app.reschedule_session(sid, "coord-1", "2027-03-02T23:30+00:00", reason="later")
    assert moved.starts_at.isoformat() == "2027-03-02T18:30:00-05:00"
    with pytest.raises(InvalidInputError, match="date-time like"):
        app.reschedule_session(sid, "coord-1", "next tuesday", reason="x")


def test_cancelled_twice_is_refused_and_sequence_counts_changes(app: Circles) -> None:
    gid = make_group(app)
    sid = plan(app, gid, count=12)[0]
    app.reschedule_session(sid, "coord-1", "2027-03-02T18:15", reason="a")
    app.cancel_session(sid, "coord-1", reason="b")
    assert app.get_session(sid).sequence == 2
    with pytest.raises(WrongStateError, match="cancelled"):
        app.cancel_session(sid, "coord-1", reason="c")


@pytest.mark.parametrize(
    ("kind", "status", "cancelled", "amount"),
    [
        (SessionKind.REGULAR, AttendanceStatus.PRESENT, False, "85.00"),
        (SessionKind.INTAKE, AttendanceStatus.LATE, False, "85.00"),
        (SessionKind.MAINTENANCE, AttendanceStatus.PRESENT, False, "60.00"),
        (SessionKind.MAINTENANCE, AttendanceStatus.LATE, False, "60.00"),
        (SessionKind.REGULAR, AttendanceStatus.ABSENT, False, "40.00"),
        (SessionKind.MAINTENANCE, AttendanceStatus.ABSENT, False, "40.00"),
        (SessionKind.REGULAR, AttendanceStatus.LATE_CANCEL, False, "30.00"),
        (SessionKind.REGULAR, AttendanceStatus.EXCUSED, False, "0.00"),
        (SessionKind.REGULAR, AttendanceStatus.PRESENT, True, "0.00"),
        (SessionKind.REGULAR, None, False, "0.00"),
    ],
)
def test_charge_per_patient_per_session(
    kind: SessionKind, status: AttendanceStatus | None, cancelled: bool, amount: str
) -> None:
    charge = FeeSchedule.parse("USD", FEES).charge(kind, status, cancelled)
    assert charge == Decimal(amount)
    assert str(charge) == amount  # exact, in the currency's minor unit
