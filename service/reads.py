"""The read side as the service sees it: the projector and its views, kept fresh.

Read-your-writes: before a view is read, the views are brought up to the store's head as
of that moment, which includes every write this client has had answered. Embedded stores
catch up inline; with PostgreSQL a worker usually has done it already, and if it is
behind, the web process catches up itself rather than answer stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.application import Circles
from projections.runner import Projector
from projections.store import StoreSettings

WORKER_WAIT_SECONDS = 0.5


class ReadSide:
    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    @classmethod
    def create(
        cls, circles: Circles, settings: StoreSettings, config: Mapping[str, Any]
    ) -> ReadSide:
        return cls(Projector(circles, settings, inline=config.get("PROJECTIONS_INLINE")))

    def fresh(self) -> Projector:
        """The projector, with its views reflecting every write answered so far."""
        projector = self.projector
        head = projector.head()
        if not projector.wait_for(head, timeout=WORKER_WAIT_SECONDS):
            projector.catch_up()
        return projector

    def close(self) -> None:
        self.projector.close()
