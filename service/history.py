"""An aggregate's events as the audit trail: time, type, actor and data."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from domain.application import Circles
from domain.errors import NotFoundError

_META = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor"}


def plain(value: Any) -> Any:
    """JSON-safe rendering of event attribute values."""
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def history(app: Circles, aggregate_id: Any, aggregate: type, what: str) -> list[dict[str, Any]]:
    """Every event of one aggregate of the given class, oldest first."""
    events = app.history(aggregate_id, what)
    if not type(events[0]).__qualname__.startswith(aggregate.__name__ + "."):
        raise NotFoundError(f"no {what} with id {aggregate_id}")
    return [
        {
            "version": e.originator_version,
            "type": type(e).__qualname__,
            "occurred_at": e.timestamp,
            "actor": getattr(e, "actor", None),
            "data": plain({k: v for k, v in vars(e).items() if k not in _META}),
        }
        for e in events
    ]
