"""Calendar (feed) links: a coordinator's page for any patient or therapist, a therapist's own.

Issuing is ``POST /patients/{pid}/feed-tokens`` or ``POST /therapists/{tid}/feed-tokens``
and revoking ``DELETE /feed-tokens/{id}``, each through ``invoke``: the same role checks,
rules and events as for JSON. A link holds its token, and only the token's hash is stored,
so the link appears once — on the page that answers the POST that issued it — as the https
address, the ``webcal://`` one, Google Calendar's "add by URL" link and a QR code to scan:
the QR code opens the link's own page (``/feeds/{token}``, ``service.web.patient_link``) with
a button per calendar, which a phone's camera handles better than a bare ``.ics`` address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import segno
from flask import Blueprint, current_app, redirect, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from domain.tokens import FeedToken, SubjectKind
from service.context import circles, fresh_views
from service.endpoint import COORDINATOR, THERAPIST, Staff, invoke
from service.routes import feeds as feed_routes
from service.routes import groups as group_routes
from service.web.pages import (
    REFUSALS,
    FormProblem,
    PageRefusal,
    current_user,
    notice,
    page,
    problem_of,
    render,
)
from service.web.shared import all_pages, therapist_names

bp = Blueprint("web_feeds", __name__, template_folder="templates")

KINDS = {SubjectKind.PATIENT.value: "Patient", SubjectKind.THERAPIST.value: "Therapist"}
ISSUE = {
    SubjectKind.PATIENT.value: feed_routes.issue_patient_token,
    SubjectKind.THERAPIST.value: feed_routes.issue_therapist_token,
}


@dataclass
class Subject:
    """Whose link: what the page knows of them, and their latest token's record."""

    kind: str
    id: str
    name: str | None
    groups: list[str]
    token: FeedToken | None
    issued_at: str = ""
    ended_at: str = ""


@dataclass
class Issued:
    """A link just issued: shown on this page only (it is not stored anywhere)."""

    url: str
    webcal_url: str
    google_url: str
    qr: Markup


@dataclass
class Form:
    kind: str = SubjectKind.PATIENT.value
    id: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)


def qr_code(url: str) -> Markup:
    """The link as a QR code in inline SVG (nothing fetched, works offline), white around
    it as scanners need, named for screen readers by its title."""
    svg = segno.make(url, error="m").svg_inline(
        scale=4, dark="#000", light="#fff", svgclass="qr", omitsize=True,
        title="QR code of the calendar link",
    )  # fmt: skip
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704 (segno's SVG)


def issue(user: Staff, kind: str, subject_id: str) -> Issued:
    """Issue through the JSON route (rotating any previous link)."""
    path: dict[str, Any] = {f"{kind}_id": subject_id}
    data = invoke(ISSUE[kind], user, body={}, **path).data
    page = data["url"].removesuffix(".ics")  # the page that offers each calendar's button
    return Issued(data["url"], data["webcal_url"], data["google_url"], qr_code(page))


def _local(moment: datetime) -> str:
    zone = ZoneInfo(current_app.config["CLINIC_TIMEZONE"])
    return moment.astimezone(zone).strftime("%-d %B %Y, %H:%M %Z")


def subject(kind: str, subject_id: str) -> Subject:
    """What the page shows of a patient or therapist; a malformed id is refused by the
    domain (``InvalidInputError``), as the issuing route would refuse it."""
    token = circles().current_feed_token(kind, subject_id)
    subject_id = subject_id.strip()
    name: str | None
    if kind == SubjectKind.PATIENT.value:
        views = fresh_views("directory")
        enrollments = views.directory.enrollments_for_patient(subject_id)
        name = enrollments[-1].patient_name if enrollments else None
        groups = []
        for e in enrollments:
            summary = views.directory.group(e.group_id)
            groups.append(f"{summary.name if summary else e.group_id} ({e.status})")
    else:
        name = therapist_names().get(subject_id)
        groups = [g.name for g in all_pages(group_routes.list_groups, {"therapist_id": subject_id})]
    found = Subject(kind, subject_id, name, groups, token)
    if token is not None:
        found.issued_at = _local(token.created_on)
        if token.revoked:
            found.ended_at = _local(token.modified_on)
    return found


def _form(source: Any) -> Form:
    kind = str(source.get("kind", "")).strip() or SubjectKind.PATIENT.value
    return Form(kind=kind, id=str(source.get("id", "")).strip())


def _beside(form: Form, problem: FormProblem) -> None:
    """The id's and kind's messages go beside those fields; a 404 (no such patient or
    therapist) is about the id too."""
    for name in ("patient_id", "therapist_id", "subject_kind"):
        messages = problem.fields.pop(name, [])
        if messages:
            form.errors.setdefault("kind" if name == "subject_kind" else "id", []).extend(messages)
    if problem.status == 404:
        form.errors.setdefault("id", []).append("Check this id.")


def _links_page(
    form: Form,
    problem: FormProblem | None = None,
    issued: Issued | None = None,
) -> BaseResponse:
    found: Subject | None = None
    if form.kind not in KINDS:
        form.errors["kind"] = ["Choose patient or therapist."]
    elif form.id:
        try:
            found = subject(form.kind, form.id)
        except REFUSALS as error:
            refused = problem_of(error)
            _beside(form, refused)
            problem = problem or refused
    group_id = request.args.get("group_id", "").strip()
    patients: list[dict[str, Any]] = []
    if group_id:
        try:
            patients = all_pages(group_routes.group_enrollments, {}, group_id=group_id)
        except REFUSALS as error:
            problem = problem or problem_of(error)
    groups = all_pages(group_routes.list_groups, {})
    return render(
        "web/feed_links.html",
        status=problem.status if problem else 200,
        form=form,
        subject=found,
        issued=issued,
        problem=problem,
        kinds=KINDS,
        therapists=sorted(therapist_names().items(), key=lambda t: t[1]),
        groups=groups,
        group_id=group_id,
        patients=patients,
        nav_current="web_feeds.links",
    )


@bp.get("/web/feed-links")
@page(roles=(COORDINATOR,))
def links() -> BaseResponse:
    return _links_page(_form(request.args))


@bp.post("/web/feed-links")
@page(roles=(COORDINATOR,))
def issue_link() -> BaseResponse:
    form = _form(request.form)
    if form.kind not in KINDS:
        return _links_page(form)
    try:
        issued = issue(current_user(), form.kind, form.id)
    except REFUSALS as error:
        problem = problem_of(error)
        _beside(form, problem)
        return _links_page(form, problem)
    return _links_page(form, issued=issued)


@bp.post("/web/feed-links/revoke")
@page(roles=(COORDINATOR,))
def revoke_link() -> BaseResponse:
    form = _form(request.form)
    version = request.form.get("version", "")
    try:
        invoke(
            feed_routes.revoke_token,
            current_user(),
            expected_version=int(version) if version.isdigit() else None,
            token_id=request.form.get("token_id", ""),
        )
    except REFUSALS as error:
        return _links_page(form, problem_of(error))
    notice("The calendar link was revoked: it stopped working at once.")
    return redirect(url_for("web_feeds.links", kind=form.kind, id=form.id))


# --- a therapist's own link ---------------------------------------------------------------------


@bp.route("/my/feed-link", methods=["GET", "POST"])
@page(roles=(THERAPIST,))
def my_link() -> BaseResponse:
    user = current_user()
    if not user.therapist_id:
        raise PageRefusal(
            409,
            "No therapist id on this account",
            "Your account is not linked to a therapist id; ask an administrator to set it.",
        )
    problem: FormProblem | None = None
    issued: Issued | None = None
    if request.method == "POST":
        try:
            issued = issue(user, SubjectKind.THERAPIST.value, user.therapist_id)
        except REFUSALS as error:
            problem = problem_of(error)
    try:
        mine = subject(SubjectKind.THERAPIST.value, user.therapist_id)
    except REFUSALS as error:
        problem = problem or problem_of(error)
        mine = None
    return render(
        "web/my_feed_link.html",
        status=problem.status if problem else 200,
        subject=mine,
        issued=issued,
        problem=problem,
    )
