"""The invitee's page (SPEC §8): ``/i/{token}`` opened in a browser.

A significant other has no account: the link is the capability. ``GET /i/{token}`` with
``Accept: text/html`` (``token_pages.wants_html``) shows the session — its date and local
time in the group's zone, the room or the video link, the neutral title the calendar shows —
and, while the invitation can be answered, an accept and a decline form; once accepted,
"add to calendar" (``/i/{token}.ics``, or a ``webcal://`` subscription that follows a
reschedule). A revoked, declined or cancelled invitation says so in a sentence. JSON clients
keep the JSON of :func:`service.routes.feeds.invitee_page`, built from the same view.

**Answering** is ``POST /i/{token}`` with ``answer=accept|decline`` and then a redirect back
(so a reload does not post twice). It runs the JSON routes' own code
(``service.routes.feeds``), so a page can refuse nothing the JSON does not. Without a
sign-in there is no session to bind a CSRF token to; instead:

- ``Sec-Fetch-Site`` (sent by every current browser) must be ``same-origin`` or ``none``;
  without it, ``Origin``, when it names a site, must be this service's (``PUBLIC_URL``'s or
  the request's host): a page on another site cannot make the invitee's browser answer;
- the form carries ``HMAC-SHA256(token, "invitee-answer" + invitation id)``: it can only
  come from a page that showed this very invitation (a forged post would need the token,
  which is the capability itself).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from projections.calendars import InvitationEntry
from service import links
from service.context import circles, services
from service.feeds import invitation_entry
from service.routes import feeds as feed_routes
from service.web import token_pages
from service.web.pages import REFUSALS, FormProblem, problem_of

bp = Blueprint("web_invitee", __name__, template_folder="templates")

ANSWER_FIELD = "answer"
FORM_FIELD = "form_token"
ANSWERS = {"accept": True, "decline": False}
SAME_SITE = ("same-origin", "none")


@dataclass(frozen=True)
class InviteeSession:
    """What the page shows: the JSON view's facts, in words in the session's zone."""

    status: str
    can_respond: bool
    cancelled: bool
    title: str
    day: str
    time: str
    room: str | None
    video_url: str | None
    ics_path: str
    webcal_url: str


def form_token(token: str, entry: InvitationEntry) -> str:
    message = f"invitee-answer\0{entry.invitation_id}".encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


def _shown(token: str, entry: InvitationEntry, now: datetime) -> InviteeSession:
    view = feed_routes._invitee_view(token, entry, now)
    session = entry.session
    zone = session.timezone
    return InviteeSession(
        status=view["status"],
        can_respond=view["can_respond"],
        cancelled=session.status == "cancelled",
        title=view["session"]["summary"],
        day=token_pages.local_day(session.starts_at, zone),
        time=token_pages.local_span(session.starts_at, session.ends_at, zone),
        room=session.room_id,
        video_url=session.video_url,
        ics_path=f"/i/{token}.ics",
        webcal_url=links.links(f"/i/{token}.ics")["webcal_url"],
    )


def _entry(token: str, now: datetime) -> InvitationEntry | None:
    """The invitation behind ``token``; None for an unknown or revoked link, a patient's
    feed token, or an ended invitation whose session is over (as for JSON)."""
    found = circles().find_feed_token(token)
    return None if found is None else invitation_entry(found, now)


def page(token: str, problem: FormProblem | None = None) -> BaseResponse:
    """The invitation as a page, or the plain 404 page."""
    now = services().clock()
    entry = _entry(token, now)
    if entry is None:
        return token_pages.not_found()
    return token_pages.render(
        "web/invitee.html",
        status=problem.status if problem else 200,
        invitation=_shown(token, entry, now),
        problem=problem,
        answer_field=ANSWER_FIELD,
        form_field=FORM_FIELD,
        form_value=form_token(token, entry),
    )


def _same_site() -> bool:
    """Whether the browser says this post comes from a page of this service.

    ``Sec-Fetch-Site`` decides when sent (a page cannot forge it). Without it (an older
    browser), ``Origin`` must name this service; ``null`` is what a browser sends under
    ``Referrer-Policy: no-referrer``, so it is let through to the form value's check.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in SAME_SITE
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True
    hosts = {request.host}
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        hosts.add(urlsplit(str(configured)).netloc)
    return urlsplit(origin).netloc in hosts


REFUSED = FormProblem(
    title="The answer could not be accepted",
    detail="This answer was not sent from the invitation's own page. Open your invitation "
    "link again and answer there.",
    status=403,
)


@bp.post("/i/<token>")
def answer(token: str) -> BaseResponse:
    entry = _entry(token, services().clock())
    if entry is None:
        return token_pages.not_found()
    sent = request.form.get(FORM_FIELD, "")
    choice = request.form.get(ANSWER_FIELD, "")
    if not _same_site() or not hmac.compare_digest(sent, form_token(token, entry)):
        return page(token, REFUSED)
    if choice not in ANSWERS:
        problem = FormProblem(
            title="Choose an answer",
            detail="Use the Accept or the Decline button.",
            status=422,
        )
        return page(token, problem)
    try:
        feed_routes._respond(token, ANSWERS[choice])
    except REFUSALS as error:
        return page(token, problem_of(error))
    response = redirect(request.path, code=303)
    token_pages.mark_page()
    response.headers["Cache-Control"] = "no-store"
    return response
