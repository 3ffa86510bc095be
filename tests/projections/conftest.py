"""Fixtures for view tests: the real application and a projector on the same store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.application import Circles
from projections.runner import Projector
from projections.store import StoreSettings
from tests.conftest import Clock


@dataclass
class World:
    """The application, its views and the clock, with a few shortcuts tests share."""

    app: Circles
    views: Projector
    clock: Clock

    def start_of(self, session_id: UUID) -> datetime:
        return self.app.get_session(session_id).starts_at.astimezone(UTC)

    def after_start_of(self, session_id: UUID, minutes: int = 5) -> None:
        self.clock.set(self.start_of(session_id) + timedelta(minutes=minutes))

    def attend(self, session_id: UUID, **statuses: str) -> None:
        """Record attendance at ``session_id`` once it has started: patient_id=status."""
        if self.clock() < self.start_of(session_id):
            self.after_start_of(session_id)
        records: list[dict[str, Any]] = [
            {"patient_id": pid, "status": status} for pid, status in statuses.items()
        ]
        self.app.record_attendance(session_id, "t-ana", records)

    def sync(self) -> int:
        return self.views.catch_up()


@pytest.fixture
def world(durable_store: StoreSettings, clock: Clock) -> Iterator[World]:
    app = Circles(env=durable_store.eventsourcing_env(), clock=clock)
    views = Projector(app, durable_store)
    yield World(app, views, clock)
    views.close()
    app.close()
