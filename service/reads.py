"""The read side as the service sees it: the projector and its views, kept fresh.

Read-your-writes: before a view is read, the views are brought up to the store's head as
of that moment, which includes every write this client has had answered. Embedded stores
catch up inline; with PostgreSQL a worker usually has done it already, and if it is
behind, the web process catches up itself rather than answer stale.

``CIRCLES_PROJECTIONS=inline|worker`` overrides the default (inline on SQLite and memory,
worker on PostgreSQL) for processes started without a config, e.g. by the ``Procfile``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.application import Circles
from projections.deadletters import DeadLetter
from projections.runner import Projector
from projections.store import ConfigurationError, StoreSettings

WORKER_WAIT_SECONDS = 0.5
MODES = {"inline": True, "worker": False}


@dataclass(frozen=True)
class Lag:
    """How far the views are behind the event store (what an operator monitors)."""

    position: int  # last notification id reflected in the views
    head: int  # last notification id in the store
    lag_events: int
    lag_seconds: float  # age of the oldest event not yet in the views; 0 when caught up
    rebuilding: bool
    inline: bool
    dead_letters: list[DeadLetter]  # events some view skipped (SPEC §6: degraded)


def inline_mode(config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> bool | None:
    """Config ``PROJECTIONS_INLINE`` wins; then ``CIRCLES_PROJECTIONS``; None = by engine."""
    if config.get("PROJECTIONS_INLINE") is not None:
        return bool(config["PROJECTIONS_INLINE"])
    mode = (os.environ if environ is None else environ).get("CIRCLES_PROJECTIONS", "").strip()
    if not mode:
        return None
    if mode not in MODES:
        raise ConfigurationError(f"CIRCLES_PROJECTIONS must be inline or worker (got {mode!r})")
    return MODES[mode]


class ReadSide:
    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    @classmethod
    def create(
        cls, circles: Circles, settings: StoreSettings, config: Mapping[str, Any]
    ) -> ReadSide:
        return cls(Projector(circles, settings, inline=inline_mode(config)))

    def fresh(self) -> Projector:
        """The projector, with its views reflecting every write answered so far."""
        projector = self.projector
        head = projector.head()
        if not projector.wait_for(head, timeout=WORKER_WAIT_SECONDS):
            projector.catch_up()
        return projector

    def lag(self, now: datetime | None = None) -> Lag:
        """The views' lag, read without catching up (that would hide what is measured)."""
        projector = self.projector
        position = projector.position()
        head = projector.head()
        seconds = 0.0
        if head > position:
            app = projector.app
            oldest = app.recorder.select_notifications(
                start=position, limit=1, inclusive_of_start=False
            )
            if oldest:
                event: Any = app.mapper.to_domain_event(oldest[0])
                written: datetime = event.timestamp
                seconds = max(0.0, ((now or datetime.now(UTC)) - written).total_seconds())
        return Lag(
            position=position,
            head=head,
            lag_events=max(0, head - position),
            lag_seconds=round(seconds, 3),
            rebuilding=projector.rebuild_in_progress(),
            inline=projector.inline,
            dead_letters=projector.dead_letters(),
        )

    def close(self) -> None:
        self.projector.close()
