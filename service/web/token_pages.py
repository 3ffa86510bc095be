"""What the two pages opened by a capability link share (SPEC §8): the invitee's
``/i/{token}`` and the patient's ``/feeds/{token}``.

Nobody signs in: the token in the address is the capability. So these pages

- are chosen by content negotiation where the address is also JSON's (``wants_html``): a
  client that prefers ``text/html`` over ``application/json`` gets the page, any other
  (no ``Accept``, ``*/*``, ``application/json``) today's JSON;
- carry the pages' Content-Security-Policy (``mark_page``: styles and forms only from this
  origin), ``Cache-Control: no-store`` and ``Referrer-Policy: no-referrer`` (for every
  response, :mod:`service.headers`), so the address leaves no trace in a cache or a
  ``Referer``; access logs show the path masked (:mod:`service.logmask`);
- answer an unknown, revoked or expired token with one plain 404 page that tells them
  nothing apart, as the JSON and the feeds do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, g, render_template, request

HTML = "text/html"
JSON = "application/json"


def wants_html() -> bool:
    """Whether the client prefers HTML to JSON (a browser opening the link)."""
    accept = request.accept_mimetypes
    return accept[HTML] > accept[JSON]


def mark_page() -> None:
    """This response is a page: :func:`service.web.serves_page` then gives it the pages'
    headers although its path is not under one of the staff pages' prefixes."""
    g.token_page = True


def render(template: str, status: int = 200, **context: Any) -> Response:
    return html(render_template(template, **context), status)


def html(body: str | bytes, status: int = 200) -> Response:
    """A page's response: its headers (``no-store``; it depends on ``Accept``)."""
    mark_page()
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Accept"
    return response


def not_found() -> Response:
    return render("web/token_missing.html", status=404)


def local_day(moment: datetime, zone: str) -> str:
    """``Tuesday 23 March 2027``, in the session's own zone."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%A %-d %B %Y")


def local_time(moment: datetime, zone: str) -> str:
    """``18:00 EDT``, in the session's own zone."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%H:%M %Z")


def local_span(starts: datetime, ends: datetime, zone: str) -> str:
    """``18:00–19:30 EDT``, in the session's own zone."""
    return f"{starts.astimezone(ZoneInfo(zone)):%H:%M}–{local_time(ends, zone)}"
