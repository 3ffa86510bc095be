"""What the request handlers share: the application, the service tables, the read side."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app, g

from domain.application import Circles
from projections.runner import Projector
from projections.store import StoreSettings
from service.keys_and_idempotency import ServiceStorage


@dataclass
class Services:
    settings: StoreSettings
    circles: Circles
    storage: ServiceStorage
    clock: Callable[[], datetime]
    reads: Any = None  # service.reads.ReadSide when the projections are available
    head: Any = None  # service.feed_freshness.StoreHead: has anything been written since?
    extra: dict[str, Any] = field(default_factory=dict)

    def require_reads(self) -> Any:
        if self.reads is None:
            from service.errors import ApiError

            raise ApiError(503, "The read models are not available in this build.")
        return self.reads

    def close(self) -> None:
        if self.head is not None:
            self.head.close()
        if self.reads is not None:
            self.reads.close()
        self.storage.close()
        self.circles.close()


def services() -> Services:
    found: Services = current_app.extensions["circles"]
    return found


def circles() -> Circles:
    return services().circles


VIEWS_HEADER = "Circles-Views"


def fresh_views(*families: str) -> Projector:
    """The views, reflecting every write answered so far, for a route reading ``families``
    (``"directory"``, ``"calendars"``, ``"attendance"``, ``"costs"``; none: all of them).

    A family that skipped an event (a dead letter, SPEC §6) still answers with what it
    has; the response then says so in its ``Circles-Views`` header (docs/operations.md).
    """
    projector: Projector = services().require_reads().fresh()
    degraded = projector.degraded_views()
    if families:
        degraded &= set(families)
    if degraded:
        g.circles_degraded_views = degraded | g.get("circles_degraded_views", set())
    return projector


def views_header() -> str | None:
    """``Circles-Views`` for this response: None unless a view it read is degraded."""
    degraded: set[str] = g.get("circles_degraded_views", set())
    if not degraded:
        return None
    return f'degraded; views="{",".join(sorted(degraded))}"'
