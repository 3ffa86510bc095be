"""Issue 9 item 3, through the application: commands with extreme and odd values are refused
with a domain error or accepted — and whatever is accepted yields events every view applies
(the views catch up, and equal a clean rebuild), on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings

from domain.application import Circles
from domain.errors import DomainError
from projections.runner import Projector
from projections.store import StoreSettings
from tests.conftest import Clock
from tests.domain.helpers import group_args
from tests.odd_values import odd_commands
from tests.rebuilt import assert_views_equal_a_rebuild

ACTOR = "coord-odd"
_RUNS: list[str] = []


class OddRun:
    """Runs drawn commands against one application, picking sessions and patients that exist."""

    def __init__(self, app: Circles) -> None:
        self.app = app
        # Each run books its own therapist and room: runs share one store, and a double
        # booking is not what they explore.
        self.own = f"{len(_RUNS)}"
        _RUNS.append(self.own)
        self.group: UUID | None = None
        self.invitation: UUID | None = None

    def _sessions(self) -> list[UUID]:
        assert self.group is not None
        return list(self.app.get_group(self.group).session_ids)

    def _patients(self) -> list[str]:
        assert self.group is not None
        return sorted(self.app.get_group(self.group).enrollment_ids)

    @staticmethod
    def _pick(items: list[Any], index: int) -> Any:
        return items[index % len(items)] if items else None

    def create_group(self, args: dict[str, Any]) -> None:
        if args.get("facilitator_ids") == ["t-odd"]:
            args["facilitator_ids"] = [f"t-odd-{self.own}"]
        if args.get("room_id") == "room-odd":
            args["room_id"] = f"room-odd-{self.own}"
        try:
            self.group = self.app.create_group(ACTOR, **args)
        except DomainError:  # then a plain group, so the other commands have one to act on
            own = {"facilitator_ids": [f"t-{self.own}"], "room_id": f"r-{self.own}"}
            self.group = self.app.create_group(ACTOR, **group_args(name="Plain", **own))
        self.app.open_group(self.group, ACTOR)
        # A few sessions and patients to start with, for the odd commands to act on.
        self.app.plan_sessions(
            self.group, ACTOR, first_date="2027-03-02", start_time="18:00", duration_minutes=90,
            count=3, cadence="weekly",
        )  # fmt: skip
        for patient in ("p-a", "p-b"):
            self.app.enroll(self.group, ACTOR, patient, f"Patient {patient}")

    def do(self, name: str, args: dict[str, Any]) -> None:
        app, group = self.app, self.group
        if name == "create_group":
            self.create_group(args)
        elif name == "plan":
            app.plan_sessions(group, ACTOR, cadence="weekly", **args)
        elif name == "enroll":
            app.enroll(group, ACTOR, **args)
        elif name == "fees":
            app.update_group(group, ACTOR, **args)
        elif name in ("reschedule", "cancel", "cancel_ahead", "invite"):
            session = self._pick(self._sessions(), args.pop("session"))
            if session is None:
                return
            if name == "reschedule":
                app.reschedule_session(session, ACTOR, **args)
            elif name == "cancel":
                app.cancel_session(session, ACTOR, **args)
            else:
                patient = self._pick(self._patients(), args.pop("patient"))
                if patient is None:
                    return
                if name == "cancel_ahead":
                    app.record_advance_cancellation(session, ACTOR, patient, **args)
                else:
                    self.invitation = app.propose_invitation(session, ACTOR, patient, **args)
                    therapist = app.get_group(group).facilitator_ids[0]
                    app.approve_invitation(self.invitation, therapist, therapist_id=therapist)
        elif name == "consent" and self.invitation is not None:
            app.record_consent(self.invitation, ACTOR, **args)


def run_odd_commands(app: Circles, commands: list[tuple[str, dict[str, Any]]]) -> int:
    """Run every command; a refusal must be a domain error (anything else fails the test).
    Returns how many were accepted."""
    run = OddRun(app)
    accepted = 0
    for name, args in commands:
        try:
            run.do(name, dict(args))
        except DomainError:
            continue
        accepted += 1
    return accepted


def test_accepted_odd_commands_yield_events_every_view_applies(
    durable_store: StoreSettings,
) -> None:
    clock = Clock(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    app = Circles(env=durable_store.eventsourcing_env(), clock=clock)
    views = Projector(app, durable_store)

    @settings(
        max_examples=12,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(odd_commands())
    def check(commands: list[tuple[str, dict[str, Any]]]) -> None:
        run_odd_commands(app, commands)
        views.catch_up()  # raises if a view cannot apply an event

    try:
        check()
        assert_views_equal_a_rebuild(app, views, durable_store)
    finally:
        views.close()
        app.close()
