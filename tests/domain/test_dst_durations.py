"""Session ends, reservations and moves are in absolute time across clock changes (issue 10.1).

US clocks go forward on 2027-03-14 at 02:00 (01:59 EST is followed by 03:00 EDT) and back
on 2027-11-07 at 02:00 (01:00-01:59 happens twice: first EDT, fold=0, then EST, fold=1).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from domain.application import Circles
from domain.errors import InvalidInputError, OverlapError
from domain.schedule import ResourceDay
from domain.values import ResourceKind
from tests.domain.helpers import make_group, plan

NY = ZoneInfo("America/New_York")


def offset_hours(moment: datetime) -> float:
    offset = moment.utcoffset()
    assert offset is not None
    return offset / timedelta(hours=1)


def test_a_90_minute_session_at_0130_est_on_spring_forward_night_ends_at_0400_edt(
    app: Circles,
) -> None:
    gid = make_group(app)
    (sid,) = plan(app, gid, first_date="2027-03-14", start_time="01:30", count=1)
    session = app.get_session(sid)
    assert session.starts_at.isoformat() == "2027-03-14T01:30:00-05:00"
    assert session.ends_at.isoformat() == "2027-03-14T04:00:00-04:00"
    assert session.ends_at.tzinfo == NY
    assert session.ends_at.astimezone(UTC) - session.starts_at.astimezone(UTC) == timedelta(
        minutes=90
    )


def test_a_session_at_0315_edt_while_the_0130_est_session_runs_until_0400_is_refused(
    app: Circles,
) -> None:
    first = make_group(app)
    (taken,) = plan(app, first, first_date="2027-03-14", start_time="01:30", count=1)
    for facilitators, room in ((["t-ana"], "room-2"), (["t-bo"], "room-1")):
        other = make_group(app, name="Night owls", facilitator_ids=facilitators, room_id=room)
        with pytest.raises(OverlapError) as caught:
            plan(app, other, first_date="2027-03-14", start_time="03:15", count=1)
        assert caught.value.colliding_session_id == str(taken)
        assert "04:00 EDT" in caught.value.message
        assert app.get_group(other).session_ids == []
    # Once the first session has really ended, the same therapist and room are free.
    later = make_group(app, name="Early birds")
    assert len(plan(app, later, first_date="2027-03-14", start_time="04:00", count=1)) == 1


def test_sessions_at_0150_edt_and_0110_est_that_overlap_on_fall_back_night_are_refused(
    app: Circles,
) -> None:
    # 01:50 EDT for 60 minutes is 05:50-06:50 UTC; 01:10 EST (the second 01:10) for 40
    # minutes is 06:10-06:50 UTC. On the wall clock they look back to back (01:10-01:50,
    # 01:50-02:50), in absolute time they overlap by 40 minutes.
    early = make_group(app)
    (taken,) = plan(
        app, early, first_date="2027-11-07", start_time="01:50", duration_minutes=60, count=1
    )
    assert app.get_session(taken).ends_at.isoformat() == "2027-11-07T01:50:00-05:00"
    late = make_group(app, name="Second 01:10")
    (moved,) = plan(
        app, late, first_date="2027-11-14", start_time="01:10", duration_minutes=40, count=1
    )
    second_0110 = datetime(2027, 11, 7, 1, 10, fold=1, tzinfo=NY)
    assert offset_hours(second_0110) == -5
    with pytest.raises(OverlapError) as caught:
        app.reschedule_session(moved, "coord-1", second_0110, "earlier")
    assert caught.value.colliding_session_id == str(taken)
    assert app.get_session(moved).starts_at.date().isoformat() == "2027-11-14"
    # The same in the other order: the 01:10 EST session booked first refuses 01:50 EDT.
    app.cancel_session(taken, "coord-1", "moved")
    app.reschedule_session(moved, "coord-1", second_0110, "earlier")
    third = make_group(app, name="Third")
    with pytest.raises(OverlapError) as caught:
        plan(app, third, first_date="2027-11-07", start_time="01:50", duration_minutes=60, count=1)
    assert caught.value.colliding_session_id == str(moved)


def test_moving_a_session_from_0130_est_to_0130_edt_is_accepted(app: Circles) -> None:
    gid = make_group(app)
    (sid,) = plan(app, gid, first_date="2027-11-07", start_time="01:30", count=1)
    assert offset_hours(app.get_session(sid).starts_at) == -4  # a plain 01:30 is the first
    app.reschedule_session(sid, "coord-1", "2027-11-07T01:30-05:00", "an hour later")
    est = app.get_session(sid)
    assert (est.starts_at.fold, offset_hours(est.starts_at)) == (1, -5)
    assert est.starts_at.tzinfo == NY
    assert est.ends_at.isoformat() == "2027-11-07T03:00:00-05:00"
    app.reschedule_session(sid, "coord-1", "2027-11-07T01:30-04:00", "back an hour")
    edt = app.get_session(sid)
    assert (edt.starts_at.fold, offset_hours(edt.starts_at), edt.sequence) == (0, -4, 2)
    # The same instant is still "its current time", however it is written.
    with pytest.raises(InvalidInputError, match="current time"):
        app.reschedule_session(sid, "coord-1", "2027-11-07T05:30Z", "no move")


def test_a_reservation_covers_the_real_interval_across_the_clock_change(app: Circles) -> None:
    # 23:00 EST on 2027-03-13 for 8 hours ends 08:00 EDT on the 14th (12:00 UTC), not 07:00.
    gid = make_group(app)
    (sid,) = plan(
        app, gid, first_date="2027-03-13", start_time="23:00", duration_minutes=480, count=1
    )
    assert app.get_session(sid).ends_at.isoformat() == "2027-03-14T08:00:00-04:00"
    other = make_group(app, name="Breakfast group", facilitator_ids=["t-bo"])  # same room
    with pytest.raises(OverlapError):
        plan(app, other, first_date="2027-03-14", start_time="07:30", count=1)
    assert len(plan(app, other, first_date="2027-03-14", start_time="08:00", count=1)) == 1


def test_a_reservation_reaches_into_the_next_utc_day_when_the_real_end_does(
    app: Circles,
) -> None:
    # Beirut's clocks go forward at midnight into 2027-03-28 (EET +02 to EEST +03). 23:00
    # EET for 210 minutes is 21:00-00:30 UTC: it ends at 03:30 EEST on the next UTC day,
    # which the wall clock (02:30 EEST, 23:30 UTC) would not reach.
    beirut = make_group(app, timezone="Asia/Beirut", currency="USD")
    (late,) = plan(
        app, beirut, first_date="2027-03-27", start_time="23:00", duration_minutes=210, count=1
    )
    assert app.get_session(late).ends_at.isoformat() == "2027-03-28T03:30:00+03:00"
    other = make_group(app, name="Dawn", timezone="Asia/Beirut", facilitator_ids=["t-bo"])
    with pytest.raises(OverlapError) as caught:
        plan(app, other, first_date="2027-03-28", start_time="03:00", count=1)
    assert caught.value.colliding_session_id == str(late)
    assert len(plan(app, other, first_date="2027-03-28", start_time="03:30", count=1)) == 1


def decode_state(app: Circles, data: bytes) -> dict[str, Any]:
    mapper = app.mapper
    if mapper.cipher:
        data = mapper.cipher.decrypt(data)
    if mapper.compressor:
        data = mapper.compressor.decompress(data)
    state: dict[str, Any] = mapper.transcoder.decode(data)
    return state


def encode_state(app: Circles, state: dict[str, Any]) -> bytes:
    mapper = app.mapper
    data = mapper.transcoder.encode(state)
    if mapper.compressor:
        data = mapper.compressor.compress(data)
    if mapper.cipher:
        data = mapper.cipher.encrypt(data)
    return data


def test_a_reservation_stored_with_a_wall_clock_end_loads_with_its_real_end(
    app: Circles,
) -> None:
    """Booked events written before ends were absolute (version 1) stay loadable and are
    read as the interval they were meant to reserve."""
    starts = datetime(2027, 3, 14, 1, 30, tzinfo=NY)
    day = ResourceDay(ResourceKind.ROOM, "room-1", starts.astimezone(UTC).date())
    day.book(uuid4(), starts, starts + timedelta(minutes=90), "#1", "Old group", "coord-1")
    stored = []
    for domain_event in day.collect_events():
        record = app.mapper.to_stored_event(domain_event)
        if domain_event.__class__.__name__ == "Booked":
            # What version 1 wrote: no class_version, the end 90 wall-clock minutes later.
            state = decode_state(app, record.state)
            assert state.pop("class_version") == 2
            state["ends_at"] = starts + timedelta(minutes=90)
            assert state["ends_at"].isoformat() == "2027-03-14T03:00:00-04:00"
            record = replace(record, state=encode_state(app, state))
        stored.append(record)
    app.recorder.insert_events(stored)
    loaded = app.repository.get(day.id)
    (booking,) = loaded.bookings.values()
    assert booking["ends_at"].isoformat() == "2027-03-14T04:00:00-04:00"
    with pytest.raises(OverlapError):
        loaded.check_free(uuid4(), datetime(2027, 3, 14, 3, 15, tzinfo=NY), booking["ends_at"])
