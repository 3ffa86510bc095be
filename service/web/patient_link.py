"""The page behind a patient's (or therapist's) calendar link (SPEC §8): ``/feeds/{token}``.

The coordinator's QR code (``service.web.feed_links``) opens this page rather than the feed
itself: a phone's browser shown an ``.ics`` address would import a copy once, where a
subscription follows every change. The page offers the subscription three ways — Apple
Calendar (``webcal://``), Google Calendar and Outlook ("add from web") — shows the
``webcal://`` and https addresses to copy, and lists the dates and times of the next
sessions, nothing else: no group, no therapist, no other patient (the feed's minimum
necessary, SPEC §4). ``/feeds/{token}.ics`` stays the calendar itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from flask import Blueprint, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from domain.tokens import SubjectKind, digest
from service import feeds, ical, links
from service.context import circles, fresh_views, services
from service.web import token_pages

bp = Blueprint("web_patient_link", __name__, template_folder="templates")

NEXT_SESSIONS = 6
OUTLOOK = "https://outlook.live.com/calendar/0/addfromweb?url={url}&name={name}"
CALENDAR_NAME = "Group sessions"


@dataclass(frozen=True)
class Subscribe:
    url: str
    webcal_url: str
    google_url: str
    outlook_url: str


@bp.get("/feeds/<token>")
def patient_link(token: str) -> BaseResponse:
    """The page, kept like the feed's body (``service.feeds``): while the event store's head
    has not moved, the day is the same and the first session listed has not started,
    nothing it shows can have changed (a revoked or rotated link is an event)."""
    now = services().clock()
    head = services().head.token()
    key = ("feed-page", digest(token), request.host)
    pages = feeds.cache()
    cached = pages.get(key)
    if (
        cached is not None
        and cached.head == head
        and cached.day == now.date()
        and (cached.expires is None or now < cached.expires)
    ):
        return token_pages.html(cached.body)
    built = _build(token, now)
    if built is None:
        pages.drop(key)
        return token_pages.not_found()
    body, expires = built
    pages.put(key, feeds.RenderedFeed(body, "", head, now.date(), expires, now))
    return token_pages.html(body)


def _build(token: str, now: datetime) -> tuple[bytes, datetime | None] | None:
    found = circles().find_feed_token(token)
    if found is None or found.subject_kind is SubjectKind.INVITATION:
        return None
    _, until = ical.window(now)
    calendars = fresh_views("calendars").calendars
    if found.subject_kind is SubjectKind.PATIENT:
        rows = calendars.sessions_for_patient(found.subject_id, since=now, until=until)
    else:
        rows = calendars.sessions_for_therapist(found.subject_id, since=now, until=until)
    upcoming = [r for r in rows if r.status != "cancelled"][:NEXT_SESSIONS]
    dates = [
        (
            token_pages.local_day(r.starts_at, r.timezone),
            token_pages.local_span(r.starts_at, r.ends_at, r.timezone),
        )
        for r in upcoming
    ]
    found_links = links.links(f"/feeds/{token}.ics")
    subscribe = Subscribe(
        url=found_links["url"],
        webcal_url=found_links["webcal_url"],
        google_url=found_links["google_url"],
        outlook_url=OUTLOOK.format(
            url=quote(found_links["url"], safe=""), name=quote(CALENDAR_NAME)
        ),
    )
    body = render_template("web/patient_link.html", subscribe=subscribe, dates=dates)
    return body.encode(), upcoming[0].starts_at if upcoming else None
