"""A busy but deterministic history: groups, plans, waitlists, guests, attendance, fees."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.application import Circles
from tests.conftest import Clock
from tests.domain.helpers import FEES, make_group, plan

STATUSES = ["present", "present", "present", "late", "absent", "excused", "late_cancel"]


def populate(app: Circles, clock: Clock, groups: int = 3, seed: int = 1) -> None:
    rnd = random.Random(seed)
    clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    made = []
    for g in range(groups):
        gid = make_group(
            app, name=f"Group {g}", facilitator_ids=[f"t-{g}"], room_id=f"room-{g}",
            max_size=5, min_size=2,
        )  # fmt: skip
        sessions = plan(app, gid, count=12)
        enrollments = [
            app.enroll(gid, "coord-1", f"g{g}-p{i}", f"Patient {g}/{i}")[0] for i in range(7)
        ]
        invitation = app.propose_invitation(sessions[3], "coord-1", f"g{g}-p0", "Sam", "spouse")
        app.approve_invitation(invitation, "coord-1", f"t-{g}")
        app.record_consent(invitation, "coord-1", "Patient", clock(), "doc")
        app.send_invitation(invitation, "coord-1")
        app.respond_to_invitation(invitation, True, "invitee")
        app.reschedule_session(sessions[9], "coord-1", starts_at="2027-05-05T18:00", reason="x")
        app.cancel_session(sessions[10], "coord-1", reason="closure")
        fees = {**FEES, "session_fee": f"{90 + g}.00"}
        effective = datetime(2027, 3, 20, tzinfo=ZoneInfo("America/New_York"))
        # One more seat, before the course closes to newcomers: the waitlist's first is seated.
        app.update_group(gid, "coord-1", fees=fees, fees_effective_from=effective, max_size=6)
        made.append((gid, sessions, enrollments, invitation))
    for n in range(6):
        for g, (gid, sessions, enrollments, invitation) in enumerate(made):
            start = app.get_session(sessions[n]).starts_at.astimezone(UTC)
            clock.set(max(clock(), start + timedelta(minutes=10)))
            seated = list(app.get_group(gid).enrolled)
            records = [{"patient_id": p, "status": rnd.choice(STATUSES)} for p in seated]
            if n == 3:
                records.append({"invitation_id": str(invitation), "status": "present"})
            app.record_attendance(sessions[n], f"t-{g}", records)
            if n == 2:
                # After the second meeting the group is closed to newcomers: the freed seat
                # goes to the waitlist only with the coordinator's reason.
                app.withdraw(
                    enrollments[1 + g % 4], "coord-1", reason="moved away",
                    admission_override_reason="joined the waitlist before the course began",
                )  # fmt: skip
    for g, (_, sessions, _, _) in enumerate(made):
        correction = [{"patient_id": f"g{g}-p1", "status": "excused"}]
        app.record_attendance(sessions[0], f"t-{g}", correction)
    # The last group is cancelled midway: its later sessions are cancelled and freed.
    app.cancel_group(made[-1][0], "coord-1", reason="facilitator on leave")
