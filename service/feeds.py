"""Serving iCalendar feeds: which sessions a token shows, conditional GET, a body cache.

A rendered body is kept per token hash (or group) together with the event store's head
token (:mod:`service.head`) and the day it was rendered for. While neither has moved,
nothing a feed shows can have changed, so a request costs the head token and a hash — that
is what keeps the ``304`` path near ``/healthz`` (SPEC §7 B3). The token is one
``max(notification id)`` query on SQLite; on PostgreSQL it is a generation moved by this
process's writes at once and by other processes' writes through LISTEN/NOTIFY (stale by
the notification latency plus one query; see :mod:`service.head`), with no query per
request. Any new event anywhere, or a new day (the window moves), renders again; a revoked
token is an event, so it is never served from the cache.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from flask import Response, current_app, request

from domain.tokens import FeedToken, SubjectKind, digest
from projections.calendars import ENDED_INVITATION, CalendarEntry, InvitationEntry
from projections.runner import Projector
from service import ical
from service.context import services
from service.errors import ApiError

CALENDAR = "text/calendar; charset=utf-8"
CACHE_SIZE = 2048
NOT_FOUND = "There is no calendar at this address."
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


@dataclass(frozen=True)
class RenderedFeed:
    body: bytes
    etag: str
    head: Hashable  # service.head.StoreHead.token() before rendering
    day: date
    expires: datetime | None  # after this instant the address stops working (404)


class FeedCache:
    """A small thread-safe LRU of rendered feeds."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Any, RenderedFeed] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> RenderedFeed | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Any, feed: RenderedFeed) -> None:
        with self._lock:
            self._items[key] = feed
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def drop(self, key: Any) -> None:
        with self._lock:
            self._items.pop(key, None)


def cache() -> FeedCache:
    extra = services().extra
    found = extra.get("feed_cache")
    if found is None:
        found = extra.setdefault("feed_cache", FeedCache())
    assert isinstance(found, FeedCache)
    return found


def not_found() -> ApiError:
    # One answer for unknown, revoked, rotated and expired tokens: nothing to tell apart.
    return ApiError(404, NOT_FOUND)


# --- links -------------------------------------------------------------------------------------


def public_base() -> str:
    """Where clients reach this service: ``PUBLIC_URL`` if configured, else this request's
    host over https (plain http is kept only for a local development server)."""
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return str(configured).rstrip("/")
    host = request.host
    local = host.split(":")[0] in LOCAL_HOSTS or host.startswith("[::1]")
    scheme = request.scheme if local else "https"
    return f"{scheme}://{host}"


def links(path: str) -> dict[str, str]:
    """The https URL, the ``webcal://`` URL and Google Calendar's "add by URL" link."""
    url = public_base() + path
    webcal = "webcal://" + url.split("://", 1)[1]
    return {
        "url": url,
        "webcal_url": webcal,
        "google_url": "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
    }


# --- conditional GET ---------------------------------------------------------------------------


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:40] + '"'


def _matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def respond(feed: RenderedFeed) -> Response:
    headers = {
        "ETag": feed.etag,
        "Cache-Control": "private, no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    if _matches(request.headers.get("If-None-Match"), feed.etag):
        return Response(status=304, headers=headers)
    response = Response(feed.body, status=200, headers=headers)
    response.headers["Content-Type"] = CALENDAR
    response.headers["Content-Disposition"] = 'inline; filename="sessions.ics"'
    return response


# --- building ------------------------------------------------------------------------------------


def _views() -> Projector:
    projector: Projector = services().require_reads().fresh()
    return projector


def _head() -> Hashable:
    head: Hashable = services().head.token()
    return head


def serve(key: Any, build: Callable[[datetime], tuple[bytes, datetime | None] | None]) -> Response:
    """Answer from the cache if nothing moved since it was rendered, else ``build`` anew.

    ``build(now)`` returns the body and when the address expires, or None for 404.
    """
    now = services().clock()
    today = now.date()
    head = _head()
    feeds = cache()
    cached = feeds.get(key)
    if (
        cached is not None
        and cached.head == head
        and cached.day == today
        and (cached.expires is None or now < cached.expires)
    ):
        return respond(cached)
    built = build(now)
    if built is None:
        feeds.drop(key)
        raise not_found()
    body, expires = built
    feed = RenderedFeed(body, etag_of(body), head, today, expires)
    feeds.put(key, feed)
    return respond(feed)


def token_key(plain: str) -> tuple[str, str]:
    return ("token", digest(plain))


def person_feed(token: FeedToken, now: datetime) -> bytes:
    """A patient's sessions while enrolled (withdrawal drops the later ones), or a
    therapist's sessions, within the window."""
    since, until = ical.window(now)
    calendars = _views().calendars
    rows: list[CalendarEntry]
    if token.subject_kind is SubjectKind.PATIENT:
        rows = calendars.sessions_for_patient(token.subject_id, since=since, until=until)
    else:
        rows = calendars.sessions_for_therapist(token.subject_id, since=since, until=until)
    return ical.render(rows)


def invitation_entry(token: FeedToken, now: datetime) -> InvitationEntry | None:
    """The invited session; None once an ended (revoked, declined, cancelled) invitation's
    session is over — until then it is served as cancelled so the invitee's calendar
    updates instead of going stale."""
    if token.subject_kind is not SubjectKind.INVITATION:
        return None
    found: InvitationEntry | None = _views().calendars.session_for_invitation(token.subject_id)
    if found is None or (found.status in ENDED_INVITATION and now >= found.session.ends_at):
        return None
    return found


def invitation_expiry(found: InvitationEntry) -> datetime | None:
    return found.session.ends_at if found.status in ENDED_INVITATION else None


def group_feed(group_id: Any, now: datetime) -> bytes:
    since, until = ical.window(now)
    return ical.render(_views().calendars.sessions_for_group(group_id, since=since, until=until))
