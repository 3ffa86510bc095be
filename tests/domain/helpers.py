"""Builders for the tests: a valid group unless a test says otherwise."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.application import Circles

FEES = {
    "session_fee": "85.00",
    "maintenance_fee": "60.00",
    "no_show_fee": "40.00",
    "late_cancel_fee": "30.00",
    "late_cancel_window_hours": 24,
}


def group_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "name": "Tuesday evening IPT",
        "modality": "ipt",
        "format": "in_person",
        "facilitator_ids": ["t-ana"],
        "room_id": "room-1",
        "timezone": "America/New_York",
        "currency": "USD",
        "fees": dict(FEES),
    }
    args.update(overrides)
    return args


def make_group(app: Circles, opened: bool = True, **overrides: Any) -> UUID:
    """A group open for enrollment (SPEC §2: enrolling needs an open or running group);
    ``opened=False`` leaves it planned."""
    group_id = app.create_group("coord-1", **group_args(**overrides))
    if opened:
        app.open_group(group_id, "coord-1")
    return group_id


def plan_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "first_date": "2027-03-02",
        "start_time": "18:00",
        "duration_minutes": 90,
        "cadence": "weekly",
        "count": 12,
    }
    args.update(overrides)
    return args


def plan(app: Circles, group_id: UUID, **overrides: Any) -> list[UUID]:
    return app.plan_sessions(group_id, "coord-1", **plan_args(**overrides))
