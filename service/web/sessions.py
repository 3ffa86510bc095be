"""One session's page: its facts, roster and attendance link, the coordinator's changes
(reschedule, cancel, make-up) and the significant-other invitation workflow.

Every read and every change is a JSON route's handler, through ``invoke``:

- the page reads ``GET /sessions/{id}``, ``GET /groups/{id}``, ``GET /sessions/{id}/roster``
  (with the attendance sheet's at-risk flags), ``GET /groups/{id}/sessions`` (which session
  is a make-up of which), and for a coordinator ``GET /sessions/{id}/history`` (every
  invitation that ever held a place) and ``GET /invitations/{id}`` for each;
- the forms send ``POST /sessions/{id}/reschedule``, ``/cancel`` and
  ``POST /groups/{id}/sessions`` with a make-up body; the invitation forms are
  ``service.web.session_guests``'s, and show their refusals on this page.

Coordinators see every form. A therapist who facilitates the group sees the page read-only,
with the attendance sheet's link and the approval a facilitator gives; other therapists get
the 404 the JSON route answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from service.context import services
from service.endpoint import COORDINATOR, THERAPIST, invoke
from service.routes import groups as group_routes
from service.routes import invitations as invitation_routes
from service.routes import sessions as session_routes
from service.web.pages import (
    REFUSALS,
    FormProblem,
    current_user,
    notice,
    now,
    page,
    problem_of,
    render,
)
from service.web.shared import (
    all_pages,
    event_details,
    event_words,
    fields_beside,
    names_of,
    page_refusal,
    session_state,
    therapist_names,
    time_span,
    whole_number,
)
from service.web.therapist import STATUS_LABELS, roster

bp = Blueprint("web_sessions", __name__, template_folder="templates")

# Each form's fields, by their names in problem+json (shown beside the field).
FORM_FIELDS: dict[str, list[str]] = {
    "reschedule": ["starts_at", "reason"],
    "cancel": ["reason"],
    "make-up": ["starts_at", "duration_minutes", "make_up_for"],
    "propose": ["patient_id", "invitee_name", "relationship", "invitee_email"],
    "approve": [],
    "consent": ["signed_by", "signed_at", "document_ref"],
    "send": [],
    "revoke": ["reason"],
}
INVITATION_LABELS = {
    "proposed": "Proposed: waiting for a facilitator's approval",
    "approved": "Approved: waiting for the patient's written consent",
    "consented": "Consent recorded: ready to send",
    "sent": "Sent: waiting for the invitee's answer",
    "accepted": "Accepted by the invitee",
    "declined": "Declined by the invitee",
    "attended": "Attended",
    "no_show": "Did not come",
    "revoked": "Revoked (the patient withdrew consent)",
    "cancelled": "Cancelled with the session",
}
GUEST_LABELS = {"present": "Present", "late": "Late", "absent": "Absent"}


@dataclass
class Failed:
    """The form that was refused: which one, what was typed, messages beside its fields."""

    form: str = ""
    invitation_id: str = ""
    sent: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def value(self, form: str, name: str, default: Any = "", invitation_id: str = "") -> Any:
        """What the person typed into this form (kept after a refusal), else ``default``."""
        if form == self.form and invitation_id == self.invitation_id:
            return self.sent.get(name, default)
        return default

    def messages(self, form: str, name: str, invitation_id: str = "") -> list[str]:
        if form == self.form and invitation_id == self.invitation_id:
            return self.errors.get(name, [])
        return []


def _local_input(moment: datetime, zone: ZoneInfo) -> str:
    """A moment as a ``datetime-local`` input's value in ``zone``."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _signed_at(consent: dict[str, str] | None, zone: ZoneInfo) -> str | None:
    """When the consent was signed, as recorded, in the group's time zone."""
    if not consent:
        return None
    return (
        datetime.fromisoformat(consent["signed_at"]).astimezone(zone).strftime("%-d %b %Y %H:%M %Z")
    )


def _invitations(user: Any, events: list[dict[str, Any]]) -> list[Any]:
    """Every invitation that ever held a place at this session, in the order proposed: from
    the session's history (freed places are gone from the session itself)."""
    ids: list[str] = []
    for event in events:
        found = event["data"].get("invitation_id")
        if found and str(found) not in ids:
            ids.append(str(found))
    return [invoke(invitation_routes.get_invitation, user, invitation_id=i).data for i in ids]


def session_page(
    session_id: str,
    problem: FormProblem | None = None,
    failed: Failed | None = None,
    sent_link: dict[str, Any] | None = None,
) -> BaseResponse:
    user = current_user()
    coordinator = user.role == COORDINATOR
    try:
        session = invoke(session_routes.get_session, user, session_id=session_id).data
        group = invoke(group_routes.get_group, user, group_id=str(session.group_id)).data
        people = roster(user, session_id)
        siblings = all_pages(group_routes.group_sessions, {}, group_id=str(session.group_id))
        events = (
            all_pages(session_routes.session_history, {}, session_id=session_id)
            if coordinator
            else []
        )
        invitations = _invitations(user, events)
    except REFUSALS as error:
        raise page_refusal(error) from None
    zone = ZoneInfo(group.timezone)
    names = therapist_names()
    moment = now()
    start, end = session.starts_at.astimezone(zone), session.ends_at.astimezone(zone)
    status = session_state(session, moment)
    original = next((s for s in siblings if s.id == session.make_up_for), None)
    make_ups = [s for s in siblings if s.make_up_for == session.id]
    patients = {p.key.partition(":")[2]: p.name for p in people if p.key.startswith("patient:")}
    guest_names = {p.key.partition(":")[2]: p for p in people if p.key.startswith("guest:")}
    rows = []
    for invitation in invitations:
        guest = guest_names.get(str(invitation.id))
        rows.append(
            {
                "invitation": invitation,
                "id": str(invitation.id),
                "status": invitation.status.value,
                "label": INVITATION_LABELS.get(invitation.status.value, invitation.status.value),
                "patient": patients.get(invitation.patient_id, invitation.patient_id),
                "attendance": guest.recorded if guest else None,
                "signed_at": _signed_at(invitation.consent, zone),
                "approved_by": names_of([invitation.approved_by], names)
                if invitation.approved_by
                else None,
            }
        )
    if not coordinator:
        # A facilitator: the invitations holding a place (the approval is theirs to give),
        # from the views the roster call above made fresh; ``GET /invitations/{id}`` is a
        # coordinator's.
        views = services().require_reads().projector
        for invitation_id in session.invitation_ids:
            entry = views.calendars.session_for_invitation(invitation_id)
            if entry is None:
                continue
            guest = guest_names.get(str(invitation_id))
            rows.append(
                {
                    "invitation": None,
                    "id": str(invitation_id),
                    "name": f"{entry.invitee_name} ({entry.relationship})",
                    "status": entry.status,
                    "label": INVITATION_LABELS.get(entry.status, entry.status),
                    "patient": patients.get(entry.patient_id, entry.patient_id),
                    "attendance": guest.recorded if guest else None,
                }
            )
    return render(
        "web/session.html",
        status=problem.status if problem else 200,
        session=session,
        group=group,
        date=f"{start:%A %-d %B %Y}",
        when=time_span(start, end),
        state=status,
        started=session.starts_at <= moment,
        # What the domain would refuse once attendance is recorded is not offered.
        movable=not (session.attendance or session.guest_attendance),
        cancellable=not session.attendance,
        facilitators=names_of(session.facilitator_ids, names),
        place=session.room_id or ("Online" if session.video_url else "—"),
        original=original,
        make_ups=make_ups,
        people=people,
        labels=STATUS_LABELS,
        guest_labels=GUEST_LABELS,
        invitations=rows,
        guest_places=len(session.invitation_ids),
        facilitator=user.therapist_id in session.facilitator_ids,
        local_start=_local_input(session.starts_at, zone),
        events=[
            {
                "what": event_words(e["type"]),
                "when": e["occurred_at"].astimezone(zone).strftime("%-d %b %Y %H:%M %Z"),
                "actor": e["actor"] or "unknown",
                "reason": e["data"].get("reason"),
                "details": event_details(e["data"]),
            }
            for e in reversed(events)
        ],
        problem=problem,
        failed=failed or Failed(),
        sent_link=sent_link,
        week=start.date().isoformat(),
        nav_current="web_coord.week" if coordinator else "web_therapist.week",
    )


def refused_form(
    session_id: str, error: Exception, form: str, sent: dict[str, str], invitation_id: str = ""
) -> BaseResponse:
    """The page again, the problem in words: beside this form's fields, the rest on top."""
    found = problem_of(error)
    errors = fields_beside(found, FORM_FIELDS[form])
    if errors and not found.fields and found.status == 422:
        found.detail = "Nothing was saved. Correct the marked fields and send the form again."
    failed = Failed(form, invitation_id, sent, errors)
    return session_page(session_id, found, failed)


def form_version(name: str = "version") -> int | None:
    version = whole_number(request.form.get(name, ""))
    return version if isinstance(version, int) else None


def typed(*names: str) -> dict[str, str]:
    return {name: request.form.get(name, "").strip() for name in names}


@bp.get("/web/sessions/<session_id>")
@page(roles=(COORDINATOR, THERAPIST))
def session(session_id: str) -> BaseResponse:
    return session_page(session_id)


@bp.post("/web/sessions/<session_id>/reschedule")
@page(roles=(COORDINATOR,))
def reschedule(session_id: str) -> BaseResponse:
    sent = typed("starts_at", "reason")
    try:
        invoke(
            session_routes.reschedule_session,
            current_user(),
            body=sent,
            expected_version=form_version(),
            session_id=session_id,
        )
    except REFUSALS as error:
        return refused_form(session_id, error, "reschedule", sent)
    notice("The session was rescheduled; its invitations moved with it.")
    return redirect(url_for("web_sessions.session", session_id=session_id))


@bp.post("/web/sessions/<session_id>/cancel")
@page(roles=(COORDINATOR,))
def cancel(session_id: str) -> BaseResponse:
    sent = typed("reason")
    try:
        invoke(
            session_routes.cancel_session,
            current_user(),
            body=sent,
            expected_version=form_version(),
            session_id=session_id,
        )
    except REFUSALS as error:
        return refused_form(session_id, error, "cancel", sent)
    notice("The session was cancelled, and its invitations with it.")
    return redirect(url_for("web_sessions.session", session_id=session_id))


@bp.post("/web/sessions/<session_id>/make-up")
@page(roles=(COORDINATOR,))
def make_up(session_id: str) -> BaseResponse:
    sent = typed("starts_at", "duration_minutes")
    body: dict[str, Any] = {"make_up_for": session_id, "starts_at": sent["starts_at"]}
    minutes = sent["duration_minutes"]
    if minutes:
        body["duration_minutes"] = whole_number(minutes)
    user = current_user()
    try:
        original = invoke(session_routes.get_session, user, session_id=session_id).data
        reply = invoke(
            group_routes.plan_sessions,
            user,
            body=body,
            expected_version=form_version("group_version"),
            group_id=str(original.group_id),
        )
    except REFUSALS as error:
        return refused_form(session_id, error, "make-up", sent)
    made = reply["sessions"][0]
    notice(f"Make-up session {made.number} was added for session {original.number}.")
    return redirect(url_for("web_sessions.session", session_id=made.id))
