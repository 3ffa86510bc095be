"""What every view family provides to the runner, and helpers they share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from projections.db import Dialect, Tx

Handler = Callable[[Tx, int, Any], None]


@dataclass
class Projection:
    """Tables of one view family and how each domain event changes them.

    ``handlers`` maps an event class to ``handler(tx, notification_id, event)``; the
    runner calls them in notification order inside the batch's transaction. ``sealed``
    names, per table, the columns written with ``tx.sealer.seal(value, column)``
    (:mod:`projections.sealing`), so a dump can compare their contents. ``reads`` names
    the other families whose tables its handlers read: replaying this family alone
    replays those too (:meth:`projections.runner.Projector.retry_dead_letters`).
    """

    name: str
    ddl: list[str]
    tables: list[str]
    handlers: dict[type, Handler] = field(default_factory=dict)
    sealed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    reads: tuple[str, ...] = ()


def text_id(value: UUID | str | None) -> str | None:
    return None if value is None else str(value)


def enum_value(value: Any) -> Any:
    return getattr(value, "value", value)


def timestamp(event: Any) -> datetime:
    """When the event happened (aware UTC), the 'last changed' of the rows it touches."""
    moment: datetime = event.timestamp
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def keyset(
    cursor: str | None, dialect: Dialect, column: str, id_column: str
) -> tuple[str, list[Any]]:
    """SQL and params selecting rows after an ``instant|id`` cursor."""
    if not cursor:
        return "", []
    instant, _, ident = cursor.partition("|")
    at = dialect.instant(datetime.fromisoformat(instant))
    return f" AND ({column} > ? OR ({column} = ? AND {id_column} > ?))", [at, at, ident]


def make_cursor(moment: datetime, ident: str) -> str:
    return f"{moment.astimezone(UTC).isoformat()}|{ident}"
