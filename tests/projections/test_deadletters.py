"""Views degrade, never wedge (SPEC §6): one view's failing event is parked, not fatal."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import errors

from domain.group import TherapyGroup
from domain.session import TherapySession
from projections.deadletters import ATTEMPTS, is_transient
from projections.rebuild import rebuild
from projections.runner import Projector
from tests.breakage import SECRET, broken_handler, failing_times, transient_error
from tests.domain.helpers import FEES, make_group, plan
from tests.projections.conftest import World
from tests.rebuilt import assert_views_equal_a_rebuild

NY = ZoneInfo("America/New_York")
FEES_CHANGED = TherapyGroup.FeesChanged
Made = tuple[UUID, list[UUID]]  # a group and its sessions


def _two_groups(world: World) -> tuple[Made, Made]:
    """Groups A and B, each planned with p-a / p-b enrolled; views caught up."""
    made = []
    for name, patient, hour in (("A", "p-a", "10:00"), ("B", "p-b", "18:00")):
        gid = make_group(world.app, name=f"Group {name}")
        sessions = plan(world.app, gid, start_time=hour)
        world.app.enroll(gid, "coord-1", patient, f"Patient {name}")
        made.append((gid, sessions))
    world.sync()
    return made[0], made[1]


def _raise_fees_and_attend(world: World, a: Made, b: Made) -> None:
    """Both groups' session fee goes to 95 from before the first session; both attend it."""
    fees = {**FEES, "session_fee": "95.00"}
    for gid, _ in (a, b):
        world.app.update_group(
            gid, "coord-1", fees=fees, fees_effective_from=datetime(2027, 3, 1, tzinfo=NY)
        )
    world.attend(a[1][0], **{"p-a": "present"})
    world.attend(b[1][0], **{"p-b": "present"})


def _total(views: Projector, patient: str) -> Decimal:
    return sum((t.total for t in views.costs.statement(patient).totals), Decimal(0))


def test_one_views_failing_event_is_parked_and_every_other_view_moves_on(world: World) -> None:
    a, b = _two_groups(world)
    with broken_handler(world.views, "costs", FEES_CHANGED, lambda e: e.originator_id == a[0]):
        _raise_fees_and_attend(world, a, b)
        assert world.sync() == world.views.head()  # the position moved past the bad event

    [letter] = world.views.dead_letters()
    assert (letter.view, letter.error_type, letter.attempts) == ("costs", "OverflowError", ATTEMPTS)
    assert letter.topic.endswith("TherapyGroup.FeesChanged")
    assert "projections.costs._fees_changed" not in letter.summary  # the wrapper raised
    assert "tests.breakage" in letter.summary and "OverflowError" in letter.summary
    assert SECRET not in letter.summary and "Ann" not in letter.summary
    assert world.views.degraded_views() == {"costs"}
    # Only costs skipped A's new fees, and of that view only that event: B's lines have
    # the new fee, A's attendance (a later event) is charged at the fee it still knows.
    assert _total(world.views, "p-b") == Decimal("95.00")
    assert _total(world.views, "p-a") == Decimal("85.00")
    # The other views applied every event, A's fee change included.
    group_a = world.views.directory.group(a[0])
    assert group_a is not None and group_a.enrolled_count == 1
    roster = world.views.attendance.roster(a[1][0])
    assert roster is not None and [line.status for line in roster.patients] == ["present"]


def test_a_fixed_handler_reapplies_its_dead_letters_on_retry(world: World) -> None:
    a, b = _two_groups(world)
    with broken_handler(world.views, "costs", FEES_CHANGED, lambda e: e.originator_id == a[0]):
        _raise_fees_and_attend(world, a, b)
        world.sync()
        # Not fixed yet: the retry replays costs and parks the same event again.
        families, left = world.views.retry_dead_letters()
        assert families == ["costs"] and [x.view for x in left] == ["costs"]
    # Deployed the fix: the retry applies it and clears the letter.
    assert world.views.retry_dead_letters()[1] == []
    assert world.views.degraded_views() == set()
    assert _total(world.views, "p-a") == Decimal("95.00")
    assert_views_equal_a_rebuild(world.app, world.views, world.views.settings)


def test_retrying_attendance_replays_the_views_it_reads(world: World) -> None:
    a, b = _two_groups(world)
    recorded = TherapySession.AttendanceRecorded
    with broken_handler(world.views, "attendance", recorded):
        _raise_fees_and_attend(world, a, b)
        world.sync()
        assert {x.view for x in world.views.dead_letters()} == {"attendance"}
        assert len(world.views.dead_letters()) == 2
    families, left = world.views.retry_dead_letters()
    assert families == ["directory", "calendars", "attendance"] and left == []
    assert_views_equal_a_rebuild(world.app, world.views, world.views.settings)


def test_a_rebuild_after_the_fix_reapplies_them_too(world: World) -> None:
    a, b = _two_groups(world)
    with broken_handler(world.views, "costs", FEES_CHANGED):
        _raise_fees_and_attend(world, a, b)
        world.sync()
        assert len(world.views.dead_letters()) == 2
    rebuild(world.app, world.views.settings)
    assert world.views.dead_letters() == []
    assert_views_equal_a_rebuild(world.app, world.views, world.views.settings)
    assert _total(world.views, "p-a") == _total(world.views, "p-b") == Decimal("95.00")


def test_transient_errors_are_retried_and_never_dead_lettered(world: World) -> None:
    a, b = _two_groups(world)
    before = world.views.position()
    error = transient_error(world.views.settings)
    with broken_handler(world.views, "costs", FEES_CHANGED, error=error) as breakage:
        _raise_fees_and_attend(world, a, b)
        with pytest.raises(Exception) as raised:
            world.sync()
        assert type(raised.value).__name__ in ("OperationalError", "LockNotAvailable")
        assert breakage.raised  # it did fail, and the whole batch was rolled back
        assert world.views.position() == before and world.views.dead_letters() == []
    world.sync()
    assert world.views.dead_letters() == []
    assert _total(world.views, "p-a") == Decimal("95.00")
    assert_views_equal_a_rebuild(world.app, world.views, world.views.settings)


def test_a_fault_that_clears_within_the_attempts_leaves_no_dead_letter(world: World) -> None:
    a, b = _two_groups(world)
    # Fails on the batch, then on the first careful attempt, then works.
    with broken_handler(world.views, "costs", FEES_CHANGED, failing_times(2)) as breakage:
        _raise_fees_and_attend(world, a, b)
        world.sync()
    assert len(breakage.raised) == 2 and world.views.dead_letters() == []
    assert_views_equal_a_rebuild(world.app, world.views, world.views.settings)


def test_each_dead_letter_is_logged_once_at_error_without_its_message(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = _two_groups(world)
    with (
        caplog.at_level(logging.ERROR, logger="projections.runner"),
        broken_handler(world.views, "costs", FEES_CHANGED, lambda e: e.originator_id == a[0]),
    ):
        _raise_fees_and_attend(world, a, b)
        world.sync()
        world.app.enroll(b[0], "coord-1", "p-c", "Patient C")
        world.sync()
        world.sync()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert "costs" in message and "FeesChanged" in message and SECRET not in message
    assert errors[0].exc_info is None  # a traceback would print the message


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (errors.SerializationFailure("could not serialize access"), True),
        (errors.DeadlockDetected("deadlock detected"), True),
        (errors.LockNotAvailable("lock timeout"), True),
        (errors.QueryCanceled("statement timeout"), True),
        (psycopg.OperationalError("server closed the connection"), True),
        (sqlite3.OperationalError("database is locked"), True),
        (OverflowError("date value out of range"), False),
        (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), False),
        (sqlite3.IntegrityError("NOT NULL constraint failed"), False),
        (KeyError("group"), False),
    ],
)
def test_only_errors_of_the_database_being_unavailable_count_as_transient(
    error: Exception, transient: bool
) -> None:
    assert is_transient(error) is transient
