"""iCalendar feeds and capability-token routes (SPEC §4, §5).

Staff issue and revoke feed tokens; patients and therapists subscribe to
``/feeds/{token}.ics``; an invitee opens ``/i/{token}``, answers, and subscribes to
``/i/{token}.ics``; staff read a group's feed. Token routes take no key: the token is the
capability, and an unknown or revoked one is a plain 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response
from werkzeug.wrappers import Response as BaseResponse

from domain.commands.tokens import IssuedToken
from domain.tokens import FeedSubjects, FeedToken, SubjectKind
from projections.calendars import InvitationEntry
from service import feeds, ical, links
from service.context import circles, fresh_views
from service.endpoint import COORDINATOR, STAFF, THERAPIST, Call, Reply, endpoint
from service.routes.access import require_facilitator, require_self
from service.schemas import feeds as fs
from service.schemas.groups import NoBody

bp = Blueprint("feeds", __name__)
TAG = "feeds"
SECRET = ("token", "url", "webcal_url", "google_url")


def _issued(issued: IssuedToken) -> Reply:
    data = {
        **{k: getattr(issued.record, k) for k in ("id", "subject_kind", "subject_id")},
        "revoked": issued.record.revoked,
        "created_on": issued.record.created_on,
        "modified_on": issued.record.modified_on,
        "token": issued.token,
        **links.links(f"/feeds/{issued.token}.ics"),
    }
    return Reply(data, status=201, headers={"Cache-Control": "no-store"})


ISSUE_DESCRIPTION = (
    "Issuing again for the same person revokes their previous token (rotation). The token "
    "is shown once: only its SHA-256 is stored. 404 (reason `never-enrolled` or "
    "`facilitates-no-group`) for a patient never enrolled or waitlisted in any group, or a "
    "therapist who facilitates no group: most likely a mistyped id."
)


def _subjects() -> FeedSubjects:
    directory: FeedSubjects = fresh_views("directory").directory
    return directory


@bp.post("/patients/<patient_id>/feed-tokens")
@endpoint(
    summary="Issue a patient's private calendar feed",
    description=ISSUE_DESCRIPTION,
    tag=TAG,
    roles=[COORDINATOR],
    body=NoBody(),
    response=fs.FeedTokenIssued(),
    status=201,
    secret=SECRET,
    errors=[404],
)
def issue_patient_token(call: Call, patient_id: str) -> Reply:
    return _issued(
        circles().issue_feed_token(SubjectKind.PATIENT, patient_id, call.actor, _subjects())
    )


@bp.post("/therapists/<therapist_id>/feed-tokens")
@endpoint(
    summary="Issue a therapist's private calendar feed",
    description=ISSUE_DESCRIPTION + " A therapist key may issue only its own therapist's "
    "feed; any other therapist id answers 404, as an unknown one does.",
    tag=TAG,
    roles=[COORDINATOR, THERAPIST],
    body=NoBody(),
    response=fs.FeedTokenIssued(),
    status=201,
    secret=SECRET,
    errors=[404],
)
def issue_therapist_token(call: Call, therapist_id: str) -> Reply:
    require_self(call, therapist_id)
    return _issued(
        circles().issue_feed_token(SubjectKind.THERAPIST, therapist_id, call.actor, _subjects())
    )


@bp.delete("/feed-tokens/<token_id>")
@endpoint(
    summary="Revoke a feed token or invitation link; its address answers 404 at once",
    tag=TAG,
    roles=[COORDINATOR],
    response=fs.FeedTokenOut(),
    errors=[404],
    if_match=True,
    etag=True,
)
def revoke_token(call: Call, token_id: str) -> Reply:
    token = circles().revoke_feed_token(
        token_id, call.actor, expected_version=call.expected_version
    )
    return Reply(token, etag=token.version)


# --- feeds -------------------------------------------------------------------------------------

FEED_DESCRIPTION = (
    "RFC 5545. Gzipped when Accept-Encoding allows it (Vary: Accept-Encoding). Strong ETag "
    "per representation: send it back as If-None-Match for a 304; Last-Modified with "
    "If-Modified-Since also gives a 304 when nothing changed."
)


def _token(plain: str, kind: SubjectKind) -> FeedToken:
    token = circles().find_feed_token(plain)
    if token is None or (token.subject_kind is SubjectKind.INVITATION) != (
        kind is SubjectKind.INVITATION
    ):
        raise feeds.not_found()
    return token


@bp.get("/feeds/<token>.ics")
@endpoint(
    summary="A patient's or therapist's sessions (iCalendar)",
    description=FEED_DESCRIPTION,
    tag=TAG,
    roles=None,
    content_type=feeds.CALENDAR,
    errors=[304, 404],
)
def person_feed(call: Call, token: str) -> Response:
    def build(now: datetime) -> tuple[bytes, datetime | None] | None:
        found = circles().find_feed_token(token)
        if found is None or found.subject_kind is SubjectKind.INVITATION:
            return None
        return feeds.person_feed(found, now), None

    return feeds.serve(feeds.token_key("feed", token), build)


@bp.get("/i/<token>.ics")
@endpoint(
    summary="The invited session (iCalendar)",
    description=FEED_DESCRIPTION + " A revoked or declined invitation shows the session "
    "cancelled until it is over; then the address answers 404.",
    tag="invitee",
    roles=None,
    content_type=feeds.CALENDAR,
    errors=[304, 404],
)
def invitee_feed(call: Call, token: str) -> Response:
    def build(now: datetime) -> tuple[bytes, datetime | None] | None:
        found = circles().find_feed_token(token)
        entry = None if found is None else feeds.invitation_entry(found, now)
        if entry is None:
            return None
        return ical.render([entry.session], "Invited session"), feeds.invitation_expiry(entry)

    return feeds.serve(feeds.token_key("invitation", token), build)


@bp.get("/groups/<group_id>/calendar.ics")
@endpoint(
    summary="A group's sessions (iCalendar)",
    description=FEED_DESCRIPTION + " A therapist key sees only the groups it facilitates.",
    tag=TAG,
    roles=STAFF,
    content_type=feeds.CALENDAR,
    errors=[304, 404],
)
def group_feed(call: Call, group_id: str) -> Response:
    group = circles().get_group(group_id)
    require_facilitator(call, group)

    def build(now: datetime) -> tuple[bytes, datetime | None]:
        return feeds.group_feed(group.id, now), None

    return feeds.serve(("group", str(group.id)), build)


# --- the invitee -------------------------------------------------------------------------------


def _invitee_view(token: str, entry: InvitationEntry, now: datetime) -> dict[str, Any]:
    session = entry.session
    cancelled = session.status == "cancelled"
    return {
        "status": entry.status,
        "can_respond": entry.status == "sent" and not cancelled and now < session.starts_at,
        "session": {
            "starts_at": session.starts_at,
            "ends_at": session.ends_at,
            "timezone": session.timezone,
            "status": session.status,
            "location": session.room_id or session.video_url,
            "summary": (ical.CANCELLED_PREFIX if cancelled else "") + ical.SUMMARY,
        },
        "calendar_url": links.public_base() + f"/i/{token}.ics",
    }


def _invitation(token: str) -> tuple[FeedToken, InvitationEntry, datetime]:
    now = feeds.services().clock()
    found = _token(token, SubjectKind.INVITATION)
    entry = feeds.invitation_entry(found, now)
    if entry is None:
        raise feeds.not_found()
    return found, entry, now


@bp.get("/i/<token>")
@endpoint(
    summary="The invitation: your answer and the session's time and place",
    description="A client preferring text/html (a browser opening the link) gets the "
    "invitee's page instead (service.web.invitee).",
    tag="invitee",
    roles=None,
    response=fs.InviteeView(),
    errors=[404],
    alternatives=("text/html",),
)
def invitee_page(call: Call, token: str) -> Reply | BaseResponse:
    from service.web import invitee, token_pages

    if token_pages.wants_html():
        return invitee.page(token)
    _, entry, now = _invitation(token)
    headers = {"Cache-Control": "private, no-store", "Vary": "Accept"}
    return Reply(_invitee_view(token, entry, now), headers=headers)


def _live_invitation(token: str) -> None:
    """The guard of the answering routes: an unknown token is 404 before any body is read."""
    _invitation(token)


def _respond(token: str, accept: bool) -> Reply:
    found, _, _ = _invitation(token)
    app = circles()
    app.respond_to_invitation(found.subject_id, accept, app.invitee_actor(found))
    _, entry, now = _invitation(token)
    return Reply(_invitee_view(token, entry, now), headers={"Cache-Control": "private, no-store"})


@bp.post("/i/<token>/accept")
@endpoint(
    summary="Accept the invitation",
    tag="invitee",
    roles=None,
    body=NoBody(),
    response=fs.InviteeView(),
    errors=[404, 409],
    guard=_live_invitation,
)
def accept(call: Call, token: str) -> Reply:
    return _respond(token, True)


@bp.post("/i/<token>/decline")
@endpoint(
    summary="Decline the invitation",
    tag="invitee",
    roles=None,
    body=NoBody(),
    response=fs.InviteeView(),
    errors=[404, 409],
    guard=_live_invitation,
)
def decline(call: Call, token: str) -> Reply:
    return _respond(token, False)
