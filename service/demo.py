"""A realistic small clinic, so a new user sees something at once (``flask run-demo``).

Eight groups (two of each modality; some running with past sessions moved into Circles,
some open for enrollment), a dozen patients, attendance for the sessions already held,
a waitlist, and a significant-other invitation waiting to be sent.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.application import Circles

ACTOR = "demo loader"
TZ = "America/New_York"
FEES = {
    "session_fee": "85.00",
    "maintenance_fee": "60.00",
    "no_show_fee": "40.00",
    "late_cancel_fee": "30.00",
    "late_cancel_window_hours": 24,
}
PATIENTS = [
    ("p-1001", "Alex Moreno"), ("p-1002", "Bea Lindqvist"), ("p-1003", "Chidi Okafor"),
    ("p-1004", "Dana Kowalski"), ("p-1005", "Eitan Levi"), ("p-1006", "Fatima Rahman"),
    ("p-1007", "Gus Pereira"), ("p-1008", "Hana Sato"), ("p-1009", "Ivan Petrov"),
    ("p-1010", "Jo Mbeki"), ("p-1011", "Kai Nakamura"), ("p-1012", "Lena Fischer"),
]  # fmt: skip
STATUSES = ["present", "present", "late", "present", "absent", "excused", "present"]


def _weekday(day: date, weekday: int) -> date:
    """The first ``weekday`` (Monday = 0) on or after ``day``."""
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _group(app: Circles, **overrides: Any) -> UUID:
    args: dict[str, Any] = {
        "format": "in_person",
        "timezone": TZ,
        "currency": "USD",
        "fees": dict(FEES),
        "max_size": 8,
        "min_size": 4,
    }
    args.update(overrides)
    return app.create_group(ACTOR, **args)


def _plan(app: Circles, group_id: UUID, first: date, at: str, count: int, **kw: Any) -> None:
    app.plan_sessions(
        group_id, ACTOR, first_date=first, start_time=at, duration_minutes=90,
        cadence=kw.pop("cadence", "weekly"), count=count, **kw,
    )  # fmt: skip


def load_demo(app: Circles) -> dict[str, Any]:
    """Create the demo clinic through the application's own use cases."""
    now = app.clock()
    today = now.astimezone(ZoneInfo(TZ)).date()
    past = today - timedelta(weeks=5)
    future = today + timedelta(weeks=2)
    room = {"format": "in_person"}

    running_ipt = _group(app, name="Tuesday evening IPT", modality="ipt", room_id="room-1",
                         facilitator_ids=["t-ana"], max_size=6, **room)  # fmt: skip
    _plan(app, running_ipt, _weekday(past, 1), "18:00", 12)
    grief_ipt = _group(app, name="Thursday IPT: grief", modality="ipt", format="online",
                       focus_area="grief", video_url="https://video.example.org/circles-grief",
                       facilitator_ids=["t-ben"])  # fmt: skip
    _plan(app, grief_ipt, _weekday(future, 3), "17:30", 12)
    running_mit = _group(app, name="Monday morning MIT", modality="mit", format="hybrid",
                         room_id="room-2", video_url="https://video.example.org/circles-mit",
                         facilitator_ids=["t-cho"])  # fmt: skip
    _plan(app, running_mit, _weekday(today - timedelta(weeks=3), 0), "10:00", 12)
    friday_mit = _group(app, name="Friday afternoon MIT", modality="mit", room_id="room-3",
                        facilitator_ids=["t-dev"], focus_area="role_transition")  # fmt: skip
    _plan(app, friday_mit, _weekday(future, 4), "14:00", 14)
    dit = _group(app, name="Wednesday DIT", modality="dit", room_id="room-1",
                 facilitator_ids=["t-eli"])  # fmt: skip
    _plan(app, dit, _weekday(future, 2), "17:00", 16)
    dit_online = _group(app, name="DIT online", modality="dit", format="online",
                        video_url="https://video.example.org/circles-dit",
                        facilitator_ids=["t-fay"])  # fmt: skip
    _plan(app, dit_online, _weekday(future, 1), "12:00", 16)
    maint = _group(app, name="Monthly maintenance", modality="maintenance", room_id="room-2",
                   facilitator_ids=["t-ana", "t-cho"], min_size=2)  # fmt: skip
    _plan(app, maint, _weekday(today - timedelta(weeks=9), 3), "15:00", 6, cadence="monthly")
    maint_online = _group(app, name="Maintenance online", modality="maintenance",
                          format="online", video_url="https://video.example.org/circles-mnt",
                          facilitator_ids=["t-ben"], min_size=2)  # fmt: skip
    _plan(app, maint_online, _weekday(future, 0), "19:00", 6, cadence="monthly")

    def enroll(group_id: UUID, patients: list[tuple[str, str]], since: datetime | None) -> None:
        for pid, name in patients:
            app.enroll(group_id, ACTOR, pid, name, enrolled_since=since)

    long_ago = datetime.combine(past - timedelta(days=7), time(9), ZoneInfo(TZ))
    for group_id in (running_ipt, running_mit, maint):
        app.open_group(group_id, ACTOR)
    enroll(running_ipt, PATIENTS[:7], long_ago)  # six seats: the seventh is waitlisted
    enroll(running_mit, PATIENTS[7:11], long_ago)
    enroll(maint, PATIENTS[9:12], long_ago - timedelta(weeks=5))
    for group_id in (running_ipt, running_mit, maint):
        app.start_group(group_id, ACTOR)
    for group_id in (grief_ipt, friday_mit, dit):
        app.open_group(group_id, ACTOR)
    enroll(grief_ipt, [PATIENTS[11], PATIENTS[0]], None)
    enroll(dit, [PATIENTS[2], PATIENTS[5]], None)

    recorded = 0
    for group_id in (running_ipt, running_mit, maint):
        group = app.get_group(group_id)
        held = [s for s in app.sessions_of(group) if s.starts_at <= now]
        for n, session in enumerate(held):
            records = [
                {"patient_id": pid, "status": STATUSES[(n + i) % len(STATUSES)]}
                for i, pid in enumerate(group.enrolled)
            ]
            app.record_attendance(session.id, ACTOR, records)
            recorded += len(records)

    upcoming = [s for s in app.sessions_of(app.get_group(running_ipt)) if s.starts_at > now][0]
    invitation = app.propose_invitation(
        upcoming.id, ACTOR, "p-1001", "Sam Moreno", "spouse", "sam@example.org"
    )
    app.approve_invitation(invitation, ACTOR, therapist_id="t-ana")
    app.record_consent(invitation, ACTOR, "Alex Moreno", now - timedelta(hours=1), "consent-0001")
    return {"groups": 8, "patients": len(PATIENTS), "attendance_records": recorded}
