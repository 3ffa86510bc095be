"""Paging: opaque cursors, given out by this API and parsed strictly when they come back.

A cursor is base64url of one of a few plain shapes, each with its own reader below; whatever
a client sends is decoded and matched against the one shape its route gives out, so a cursor
this API did not give out (another route's, an edited one, ``²``, 100 digits, a date past the
calendar) is a 422 naming ``cursor`` — never a value that reaches SQL or ``int()`` unchecked.

- offset ``o:<n>``: lists the service builds in memory (a group's sessions, histories);
- position ``<n>``: directory lists in creation (notification) order;
- instant ``<UTC instant>|<uuid>``: calendar lists by start time;
- id ``<uuid>``: staff keys by id.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from domain.bounds import EARLIEST, LATEST
from service.errors import ApiError

T = TypeVar("T")

_ASCII_CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,200}={0,2}$")
_OFFSET = re.compile(r"^o:(0|[1-9][0-9]{0,8})$", re.ASCII)
_POSITION = re.compile(r"^[1-9][0-9]{0,17}$", re.ASCII)  # fits a signed 64-bit column
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_INSTANT = re.compile(
    rf"^(\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}:\d{{2}}(?:\.\d{{6}})?\+00:00)\|({_UUID})$",
    re.ASCII,
)
_ID = re.compile(rf"^{_UUID}$", re.ASCII)


def not_ours() -> ApiError:
    return ApiError(
        422,
        "cursor is not one this API gave out; pass next_cursor from the previous page as is",
        errors={"cursor": ["Not a cursor from this API."]},
    )


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The plain text of a cursor, or None for the first page; 422 if it is not base64url
    of ASCII (every cursor this API gives out is)."""
    if cursor is None:
        return None
    if not _ASCII_CURSOR.match(cursor):
        raise not_ours()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return raw.decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise not_ours() from None


def _read(cursor: str | None, shape: re.Pattern[str]) -> re.Match[str] | None:
    raw = decode_cursor(cursor)
    if raw is None:
        return None
    match = shape.match(raw)
    if match is None:
        raise not_ours()
    return match


def offset_after(cursor: str | None) -> int:
    match = _read(cursor, _OFFSET)
    return 0 if match is None else int(match.group(1))


def position_after(cursor: str | None) -> str | None:
    """A directory list's position (the text its views compare), checked to be one."""
    match = _read(cursor, _POSITION)
    return None if match is None else match.group(0)


def instant_after(cursor: str | None) -> str | None:
    """A calendar list's ``instant|id``: a real UTC instant within the bounds and a uuid."""
    match = _read(cursor, _INSTANT)
    if match is None:
        return None
    try:
        moment = datetime.fromisoformat(match.group(1))
    except ValueError:
        raise not_ours() from None
    if not EARLIEST <= moment < LATEST:
        raise not_ours()
    return match.group(0)


def id_after(cursor: str | None) -> str | None:
    match = _read(cursor, _ID)
    return None if match is None else str(UUID(match.group(0)))


def keyset_page(rows: Sequence[T], limit: int, cursor_of: Callable[[T], str]) -> dict[str, Any]:
    """One page from ``limit + 1`` rows fetched after a cursor: the extra row says there is
    a next page, whose cursor is the last shown row's."""
    shown = list(rows[:limit])
    more = len(rows) > limit
    return {"items": shown, "next_cursor": encode_cursor(cursor_of(shown[-1])) if more else None}


def page(items: Sequence[T], query: dict[str, Any]) -> dict[str, Any]:
    """One page of an in-memory, stably ordered sequence."""
    start = offset_after(query.get("cursor"))
    limit = int(query.get("limit", 50))
    chunk = list(items[start : start + limit])
    more = start + limit < len(items)
    return {"items": chunk, "next_cursor": encode_cursor(f"o:{start + limit}") if more else None}
