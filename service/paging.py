"""Paging for lists the service builds itself: an opaque cursor over a stable order."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, TypeVar

from service.errors import ApiError

T = TypeVar("T")


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            422, "cursor is not one this API gave out", errors={"cursor": ["Invalid cursor."]}
        ) from None


def page(items: Sequence[T], query: dict[str, Any]) -> dict[str, Any]:
    """One page of an in-memory, stably ordered sequence."""
    start = 0
    raw = decode_cursor(query.get("cursor"))
    if raw is not None:
        if not raw.startswith("o:") or not raw[2:].isdigit():
            raise ApiError(
                422, "cursor is not one this API gave out", errors={"cursor": ["Invalid cursor."]}
            )
        start = int(raw[2:])
    limit = int(query.get("limit", 50))
    chunk = list(items[start : start + limit])
    more = start + limit < len(items)
    return {"items": chunk, "next_cursor": encode_cursor(f"o:{start + limit}") if more else None}
