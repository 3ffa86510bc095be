"""For random command sequences, catching up as you go and rebuilding from scratch agree,
and the charge lines agree with the domain's own fee rules."""

from __future__ import annotations

import contextlib
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.application import Circles
from domain.enrollment import enrollment_id
from domain.errors import DomainError
from domain.values import AttendanceStatus
from projections.rebuild import rebuild
from projections.runner import Projector
from projections.store import StoreSettings
from tests.conftest import Clock
from tests.domain.helpers import FEES, make_group, plan

G, S, P = st.integers(0, 1), st.integers(0, 11), st.integers(0, 4)
STATUS = st.sampled_from([s.value for s in AttendanceStatus])
ATTEND = st.tuples(st.just("attend"), G, S, P, STATUS)
COMMAND = st.one_of(
    ATTEND,
    ATTEND,
    ATTEND,
    st.tuples(st.just("enroll"), G, P),
    st.tuples(st.just("withdraw"), G, P),
    st.tuples(st.just("reschedule"), G, S, st.integers(1, 3)),
    st.tuples(st.just("cancel"), G, S),
    st.tuples(st.just("cancel_ahead"), G, S, P, st.integers(0, 72)),
    st.tuples(st.just("fees"), G, st.integers(50, 120), S),
    st.tuples(st.just("invite"), G, S, P, st.booleans()),
    st.tuples(st.just("advance"), st.integers(1, 20)),
    st.tuples(st.just("sync")),
)


class Run:
    def __init__(self, app: Circles, clock: Clock) -> None:
        self.app, self.clock = app, clock
        self.groups = [
            make_group(app, max_size=4, min_size=1),
            make_group(
                app, name="B", facilitator_ids=["t-bo"], room_id="r2", timezone="Europe/Berlin"
            ),
        ]
        self.sessions = [plan(app, self.groups[0]), plan(app, self.groups[1], start_time="10:00")]
        for gid in self.groups:  # a few patients from the start, so most commands apply
            for n in range(3):
                app.enroll(gid, "c", f"p{n}", f"Pat {n}")

    def do(self, command: tuple[Any, ...], views: Projector) -> None:
        app, name = self.app, command[0]
        if name == "sync":
            views.catch_up()
        elif name == "advance":
            self.clock.advance(days=command[1])
        elif name == "enroll":
            app.enroll(self.groups[command[1]], "c", f"p{command[2]}", f"Pat {command[2]}")
        elif name == "withdraw":
            group = app.get_group(self.groups[command[1]])
            eid = group.enrollment_ids.get(f"p{command[2]}")
            if eid is not None:
                app.withdraw(eid, "c", reason="r")
        elif name == "attend":
            sid = self.sessions[command[1]][command[2]]
            start = app.get_session(sid).starts_at.astimezone(UTC)
            self.clock.set(max(self.clock(), start + timedelta(minutes=1)))
            record = {"patient_id": f"p{command[3]}", "status": command[4]}
            app.record_attendance(sid, "t", [record])
        elif name == "reschedule":
            session = app.get_session(self.sessions[command[1]][command[2]])
            moved = session.starts_at + timedelta(days=command[3])
            app.reschedule_session(session.id, "c", starts_at=moved, reason="r")
        elif name == "cancel":
            app.cancel_session(self.sessions[command[1]][command[2]], "c", reason="r")
        elif name == "cancel_ahead":  # told some hours ago, if that is before the session
            told = self.clock() - timedelta(hours=command[4])
            sid = self.sessions[command[1]][command[2]]
            app.record_advance_cancellation(sid, "c", f"p{command[3]}", told)
        elif name == "fees":
            session = app.get_session(self.sessions[command[1]][command[3]])
            fees = {
                **FEES,
                "session_fee": f"{command[2]}.00",
                "no_show_fee": f"{command[2] // 2}.50",
            }
            app.update_group(
                self.groups[command[1]], "c", fees=fees, fees_effective_from=session.starts_at
            )
        elif name == "invite":
            iid = app.propose_invitation(
                self.sessions[command[1]][command[2]], "c", f"p{command[3]}", "Sam", "spouse"
            )
            if command[4]:
                app.revoke_invitation(iid, "c", reason="changed mind")

    def expected_flags(self) -> dict[tuple[Any, str], bool]:
        """The at-risk flag of every enrollment, as the domain's own record has it."""
        flags = {}
        for gid in self.groups:
            for n in range(5):
                with contextlib.suppress(DomainError):
                    enrollment = self.app.get_enrollment(enrollment_id(gid, f"p{n}"))
                    flags[(gid, f"p{n}")] = enrollment.at_risk
        return flags

    def view_flags(self, views: Projector) -> dict[tuple[Any, str], bool]:
        flags = {}
        for gid, patient in self.expected_flags():
            rates = views.attendance.patient(patient).groups
            flags[(gid, patient)] = rates[gid].at_risk if gid in rates else False
            group = views.attendance.group_rates(gid).patients
            assert flags[(gid, patient)] is (group[patient].at_risk if patient in group else False)
        return flags

    def expected_charges(self) -> dict[tuple[str, str], Decimal]:
        """What the domain itself says each recorded attendance costs."""
        charges = {}
        for gid, ids in zip(self.groups, self.sessions, strict=True):
            group = self.app.get_group(gid)
            for sid in ids:
                session = self.app.get_session(sid)
                fees = group.fees_for(session.starts_at)
                for patient, status in session.attendance_by_patient.items():
                    amount = fees.charge(session.kind, status, session.is_cancelled)
                    charges[(str(sid), patient)] = amount
        return charges


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(COMMAND, min_size=10, max_size=40))
def test_catch_up_and_rebuild_build_the_same_views(commands: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = StoreSettings("sqlite", sqlite_path=Path(tmp) / "c.sqlite3")
        clock = Clock(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
        app = Circles(env=store.eventsourcing_env(), clock=clock)
        views = Projector(app, store, batch_size=7)
        try:
            run = Run(app, clock)
            for command in commands:
                # Refused commands change nothing; the views must agree on that too.
                with contextlib.suppress(DomainError):
                    run.do(command, views)
            views.catch_up()
            incremental = views.dump()
            lines = {(str(x.session_id), x.patient_id): x.amount for x in views.costs.lines()}
            assert lines == run.expected_charges()
            assert run.view_flags(views) == run.expected_flags()
            rebuild(app, store, batch_size=1000)
            assert views.dump() == incremental
        finally:
            views.close()
            app.close()
