"""A realistic clinic history, written fast: aggregates driven directly, saved in batches.

Group ``n`` starts in week ``n // GROUPS_PER_WEEK`` after :data:`EPOCH`, so about 32 groups
run at any time however long the history is: a month of it looks the same at 10k events
as at 1M (what B4 compares). Each group (~245 events): 16 weekly sessions, 10 patients (8
seated, 2 on the waitlist), intake for the seated ones, a fee change, attendance for the
first 12 sessions (every status), a withdrawal that promotes the first waitlisted patient,
one session rescheduled and one cancelled.

Used by ``bench/b4_scale.py`` and the R2 deployment test; not part of the service.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.admission import OPEN_ADMISSION
from domain.application import Circles
from domain.enrollment import Enrollment, enrollment_id
from domain.group import TherapyGroup
from domain.session import TherapySession
from domain.values import (
    AttendanceStatus,
    EnrollmentStatus,
    FeeSchedule,
    Format,
    Modality,
    ProblemArea,
    SessionKind,
)

EPOCH = datetime(2020, 1, 7, 18, 0, tzinfo=ZoneInfo("Europe/Berlin"))
GROUPS_PER_WEEK = 2
ZONES = ["Europe/Berlin", "America/New_York", "Europe/London"]
FEES = FeeSchedule.parse(
    "EUR",
    {"session_fee": "85.00", "maintenance_fee": "60.00", "no_show_fee": "40.00",
     "late_cancel_fee": "30.00"},
)  # fmt: skip
RAISED = FeeSchedule.parse(
    "EUR",
    {"session_fee": "90.00", "maintenance_fee": "65.00", "no_show_fee": "45.00",
     "late_cancel_fee": "30.00"},
)  # fmt: skip
STATUSES = list(AttendanceStatus)
AREAS = list(ProblemArea)
ACTOR = "history generator"


def patient_id(group: int, p: int) -> str:
    return f"g{group}-p{p}"


def group_history(n: int) -> list[Any]:
    """Group ``n``'s whole course, as aggregates with pending events."""
    tz = ZoneInfo(ZONES[n % len(ZONES)])
    first = EPOCH.astimezone(tz).replace(hour=18) + timedelta(weeks=n // GROUPS_PER_WEEK)
    therapist, room = f"t-{n % 40}", f"room-{n}"
    group = TherapyGroup(
        name=f"Group {n}", modality=Modality.IPT, format=Format.IN_PERSON, focus_area=None,
        facilitator_ids=[therapist], room_id=room, video_url=None, timezone=tz.key,
        max_size=8, min_size=4, guest_limit=2, fees=FEES.as_dict(), length_override_reason=None,
        actor=ACTOR,
    )  # fmt: skip
    group.open(ACTOR)
    sessions = [
        TherapySession(
            group_id=group.id,
            number=i + 1,
            kind=SessionKind.INTAKE if i == 0 else SessionKind.REGULAR,
            starts_at=first + timedelta(weeks=i),
            duration_minutes=90,
            facilitator_ids=[therapist],
            room_id=room,
            video_url=None,
            make_up_for=None,
            actor=ACTOR,
        )  # fmt: skip
        for i in range(16)
    ]
    group.add_sessions([s.id for s in sessions], ACTOR)
    enrollments: dict[str, Enrollment] = {}
    joined = first - timedelta(days=14)
    for p in range(10):
        pid = patient_id(n, p)
        seated = group.admit(pid, OPEN_ADMISSION, None, ACTOR)
        enrollment = Enrollment(
            id=enrollment_id(group.id, pid), group_id=group.id, patient_id=pid,
            patient_name=f"Patient {pid}",
            status=EnrollmentStatus.ENROLLED if seated else EnrollmentStatus.WAITLISTED,
            enrolled_at=joined if seated else None, actor=ACTOR,
        )  # fmt: skip
        if seated:
            enrollment.record_intake(AREAS[(n + p) % len(AREAS)], True, ACTOR)
        enrollments[pid] = enrollment
    group.change_fees(RAISED, first + timedelta(weeks=8), ACTOR)
    sessions[13].reschedule(sessions[13].starts_at + timedelta(days=1), "clinic closure", ACTOR)
    sessions[15].cancel("therapist ill", ACTOR)
    for i, session in enumerate(sessions[:12]):
        if i == 6:  # a patient leaves; the first on the waitlist takes the seat
            leaving = enrollments[patient_id(n, 0)]
            at = session.starts_at - timedelta(days=2)
            leaving.withdraw("moved away", at, ACTOR)
            # (a history built event by event: the closed-group rule is the commands' to apply)
            promoted = group.release(leaving.patient_id, OPEN_ADMISSION, None, ACTOR)
            assert promoted is not None
            enrollments[promoted].promote(at, ACTOR, None)
        for p, pid in enumerate(group.enrolled):
            status = STATUSES[(n + i + p) % len(STATUSES)]
            session.record_attendance(pid, status, ACTOR)
            enrollments[pid].note_attendance(session.id, session.starts_at, status, ACTOR)
    return [group, *sessions, *enrollments.values()]


def write_history(
    app: Circles,
    events: int,
    first_group: int = 0,
    groups_per_save: int = 20,
    progress: Callable[[int, float], None] | None = None,
) -> int:
    """Append groups from ``first_group`` until the store holds ``events``; returns next group."""
    started = time.perf_counter()
    n = first_group
    while (head := int(app.recorder.max_notification_id() or 0)) < events:
        batch: list[Any] = []
        for _ in range(min(groups_per_save, (events - head) // 240 + 1)):
            batch += group_history(n)
            n += 1
        app.save(*batch)
        if progress is not None:
            progress(head, time.perf_counter() - started)
    return n
