"""No double booking of therapists or rooms, also under concurrent requests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from domain.application import Circles
from domain.errors import OverlapError
from projections.store import StoreSettings
from tests.conftest import Clock
from tests.domain.helpers import make_group, plan


def test_a_therapist_cannot_facilitate_two_overlapping_sessions(app: Circles) -> None:
    first = make_group(app, facilitator_ids=["t-ana"], room_id="room-1")
    taken = plan(app, first, count=12)
    second = make_group(app, name="Other", facilitator_ids=["t-bo", "t-ana"], room_id="room-2")
    with pytest.raises(OverlapError, match="therapist t-ana is already booked") as caught:
        plan(app, second, start_time="19:00", count=12)
    assert caught.value.colliding_session_id == str(taken[0])
    assert "Tuesday evening IPT" in caught.value.message
    assert app.get_group(second).session_ids == []


def test_a_room_cannot_host_two_overlapping_sessions(app: Circles) -> None:
    first = make_group(app, facilitator_ids=["t-ana"], room_id="room-1")
    plan(app, first, count=12)
    second = make_group(app, name="Other", facilitator_ids=["t-bo"], room_id="room-1")
    with pytest.raises(OverlapError, match="room room-1"):
        plan(app, second, first_date="2027-03-16", start_time="17:00", count=12)


def test_back_to_back_sessions_do_not_collide(app: Circles) -> None:
    first = make_group(app)
    plan(app, first, count=12)  # 18:00-19:30
    second = make_group(app, name="Late group")
    assert len(plan(app, second, start_time="19:30", count=12)) == 12


def test_online_groups_book_only_their_therapists(app: Circles) -> None:
    first = make_group(app, facilitator_ids=["t-ana"], room_id="room-1")
    plan(app, first, count=12)
    online = make_group(
        app,
        name="Online",
        format="online",
        room_id=None,
        video_url="https://video.example/abc",
        facilitator_ids=["t-bo"],
    )
    assert len(plan(app, online, count=12)) == 12


def test_reschedule_into_a_collision_is_refused_and_cancel_frees_the_slot(app: Circles) -> None:
    first = make_group(app)
    a = plan(app, first, count=12)
    second = make_group(app, name="Wednesday", facilitator_ids=["t-ana"], room_id="room-2")
    b = plan(app, second, first_date="2027-03-03", count=12)
    with pytest.raises(OverlapError) as caught:
        app.reschedule_session(b[0], "coord-1", "2027-03-02T18:30", "therapist request")
    assert caught.value.colliding_session_id == str(a[0])
    assert app.get_session(b[0]).sequence == 0
    app.cancel_session(a[0], "coord-1", "room flooded")
    moved = app.reschedule_session(b[0], "coord-1", "2027-03-02T18:30", "therapist request")
    assert moved.sequence == 1
    assert moved.starts_at.isoformat() == "2027-03-02T18:30:00-05:00"


def test_rescheduling_a_session_onto_its_own_old_slot_overlap_is_fine(app: Circles) -> None:
    gid = make_group(app)
    sid = plan(app, gid, count=12)[0]
    moved = app.reschedule_session(sid, "coord-1", "2027-03-02T18:45", "later start")
    assert moved.starts_at.hour == 18 and moved.starts_at.minute == 45


def test_a_session_spanning_utc_midnight_still_collides(app: Circles) -> None:
    # 19:00 in New York is 00:00 UTC the next day; an 18:30 session crosses UTC midnight.
    first = make_group(app)
    plan(app, first, start_time="18:30", count=12)
    second = make_group(app, name="Other", room_id="room-2")
    with pytest.raises(OverlapError):
        plan(app, second, start_time="19:45", count=12)


def test_twenty_concurrent_bookings_of_one_room_slot_one_wins(
    durable_store: StoreSettings, clock: Clock
) -> None:
    apps = [Circles(env=durable_store.eventsourcing_env(), clock=clock) for _ in range(4)]
    groups = [
        make_group(apps[0], name=f"Group {i}", facilitator_ids=[f"t-{i}"], room_id="room-9")
        for i in range(20)
    ]

    def book(i: int) -> str:
        try:
            plan(apps[i % 4], groups[i], count=12)
            return "booked"
        except OverlapError:
            return "refused"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(book, range(20)))
    assert outcomes.count("booked") == 1
    assert outcomes.count("refused") == 19
    for a in apps:
        a.close()
