"""Serving iCalendar feeds: which sessions a token shows, conditional GET, a body cache.

A rendered body is kept per token hash (or group) together with the event store's head
token (:mod:`service.feed_freshness`) and the day it was rendered for. While neither has moved,
nothing a feed shows can have changed, so a request costs the head token and a hash — that
is what keeps the ``304`` path near ``/healthz`` (SPEC §7 B3). The token is one
``max(notification id)`` query on SQLite; on PostgreSQL it is a generation moved by this
process's writes at once and by other processes' writes through LISTEN/NOTIFY (stale by
the notification latency plus one query; see :mod:`service.feed_freshness`), with no query per
request. Any new event anywhere, or a new day (the window moves), renders again; a revoked
token is an event, so it is never served from the cache.

**Compression.** A client that accepts gzip gets the body gzipped (compressed once per
rendered body, deterministically: no timestamp in the gzip header), with its own strong
ETag (``"<hash>-gz"``: a content-coding is a different representation, RFC 9110 §8.8.3),
and every answer says ``Vary: Accept-Encoding`` so a shared cache keeps the two apart.
``If-None-Match`` is compared with the ETag of the representation this request would get.

**Last-Modified.** The second this process first rendered the body it serves, kept while
re-renders give the same body. A body that changes within the second its predecessor was
dated carries that same date but is not *validated* by it: ``If-Modified-Since`` gives
``304`` only for a body whose date no other body of this feed has shared in this process
(a re-render of the same body in a later second re-dates it and settles that). Dates are
per process, so after a restart, or from another worker, a client may get one full ``200``
more than needed; ``If-None-Match`` (preferred: it is exact, and when sent the date is
ignored, RFC 9110 §13.1.3) has no such cost.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

from flask import Response, request
from werkzeug.http import http_date

from domain.tokens import FeedToken, SubjectKind, digest
from projections.calendars import ENDED_INVITATION, CalendarEntry, InvitationEntry
from service import ical
from service.context import fresh_views, services
from service.errors import ApiError

CALENDAR = "text/calendar; charset=utf-8"
CACHE_SIZE = 2048
GZIP_LEVEL = 9  # once per rendered body; a 9 kB feed takes well under a millisecond
NOT_FOUND = "There is no calendar at this address."


@dataclass(frozen=True)
class RenderedFeed:
    body: bytes
    etag: str
    head: Hashable  # service.feed_freshness.StoreHead.token() before rendering
    day: date
    expires: datetime | None  # after this instant the address stops working (404)
    last_modified: datetime  # UTC, whole seconds
    dated_exactly: bool = True  # no other body of this feed had this date (If-Modified-Since)

    @cached_property
    def gzipped(self) -> bytes:
        return gzip.compress(self.body, compresslevel=GZIP_LEVEL, mtime=0)

    @property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gz"'


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


def wants_gzip() -> bool:
    """Whether the client accepts gzip (``Accept-Encoding``; ``q=0`` refuses, ``*`` accepts)."""
    return request.accept_encodings["gzip"] > 0


def _not_modified(feed: RenderedFeed, etag: str) -> bool:
    if "If-None-Match" in request.headers:  # then If-Modified-Since is ignored (RFC 9110)
        return _matches(request.headers.get("If-None-Match"), etag)
    since = request.if_modified_since  # None when absent or not an HTTP-date
    return since is not None and feed.dated_exactly and feed.last_modified <= since


def respond(feed: RenderedFeed) -> Response:
    gzipped = wants_gzip()
    etag = feed.gzip_etag if gzipped else feed.etag
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(feed.last_modified),
        "Vary": "Accept-Encoding",
        "Cache-Control": "private, no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    if _not_modified(feed, etag):
        return Response(status=304, headers=headers)
    response = Response(feed.gzipped if gzipped else feed.body, status=200, headers=headers)
    response.headers["Content-Type"] = CALENDAR
    response.headers["Content-Disposition"] = 'inline; filename="sessions.ics"'
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    return response


def dated(previous: RenderedFeed | None, etag: str, now: datetime) -> tuple[datetime, bool]:
    """The Last-Modified of a newly rendered body, and whether it dates that body alone."""
    second = now.astimezone(UTC).replace(microsecond=0)
    if previous is None:
        return second, True
    if previous.etag == etag and (previous.dated_exactly or previous.last_modified == second):
        return previous.last_modified, previous.dated_exactly
    if previous.etag != etag and previous.last_modified >= second:
        return second, False  # two bodies within one second: the date cannot tell them apart
    return second, True


# --- building ------------------------------------------------------------------------------------


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
    etag = etag_of(body)
    last_modified, exact = dated(cached, etag, now)
    feed = RenderedFeed(body, etag, head, today, expires, last_modified, exact)
    feeds.put(key, feed)
    return respond(feed)


def token_key(route: str, plain: str) -> tuple[str, str]:
    """The cache key of a token's feed. Feed tokens and invitation tokens are different
    kinds, each served only by its own route: the key names the route, so a body cached
    for one route is never an answer on the other."""
    return (route, digest(plain))


def person_feed(token: FeedToken, now: datetime) -> bytes:
    """A patient's sessions while enrolled (withdrawal drops the later ones), or a
    therapist's sessions, within the window."""
    since, until = ical.window(now)
    calendars = fresh_views("calendars").calendars
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
    calendars = fresh_views("calendars").calendars
    found: InvitationEntry | None = calendars.session_for_invitation(token.subject_id)
    if found is None or (found.status in ENDED_INVITATION and now >= found.session.ends_at):
        return None
    return found


def invitation_expiry(found: InvitationEntry) -> datetime | None:
    return found.session.ends_at if found.status in ENDED_INVITATION else None


def group_feed(group_id: Any, now: datetime) -> bytes:
    since, until = ical.window(now)
    calendars = fresh_views("calendars").calendars
    return ical.render(calendars.sessions_for_group(group_id, since=since, until=until))
