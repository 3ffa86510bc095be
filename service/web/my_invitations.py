"""A therapist's guest invitations waiting for their approval, and the approve button.

The list is the calendars view's invitations to sessions the therapist facilitates, still
``proposed``; approving is ``POST /invitations/{id}/approve`` through ``invoke`` — the
route's scope check and the domain's rule that only a facilitator of the group approves.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

from service.context import fresh_views
from service.endpoint import THERAPIST, invoke
from service.routes import invitations as invitation_routes
from service.web.pages import REFUSALS, FormProblem, current_user, notice, page, problem_of, render

bp = Blueprint("web_approvals", __name__, template_folder="templates")


def _waiting(therapist_id: str) -> list[dict[str, Any]]:
    views = fresh_views("calendars", "directory")
    found = views.calendars.invitations_for_therapist(therapist_id, ["proposed"])
    groups: dict[Any, Any] = {}
    patients: dict[Any, dict[str, str]] = {}
    rows = []
    for invitation in found:
        session = invitation.session
        gid = session.group_id
        if gid not in groups:
            groups[gid] = views.directory.group(gid)
            patients[gid] = {
                e.patient_id: e.patient_name for e in views.directory.enrollments(gid, limit=1000)
            }
        summary = groups[gid]
        rows.append(
            {
                "invitation": invitation,
                "group": summary.name if summary else "(unknown group)",
                "patient": patients[gid].get(invitation.patient_id, invitation.patient_id),
                "when": f"{session.starts_at:%A %-d %B %Y, %H:%M}–{session.ends_at:%H:%M} "
                f"{session.starts_at.tzname()}",
                "number": session.number,
                "cancelled": session.status == "cancelled",
            }
        )
    return rows


def _page(problem: FormProblem | None = None, failed: str | None = None) -> BaseResponse:
    user = current_user()
    return render(
        "web/my_invitations.html",
        status=problem.status if problem else 200,
        rows=_waiting(user.therapist_id or ""),
        problem=problem,
        failed=failed,
    )


@bp.get("/my/invitations")
@page(roles=(THERAPIST,))
def invitations() -> BaseResponse:
    return _page()


@bp.post("/my/invitations/<invitation_id>/approve")
@page(roles=(THERAPIST,))
def approve(invitation_id: str) -> BaseResponse:
    try:
        reply = invoke(
            invitation_routes.approve_invitation, current_user(), body={},
            invitation_id=invitation_id,
        )  # fmt: skip
    except REFUSALS as error:
        return _page(problem_of(error), invitation_id)
    notice(
        f"You approved {reply.data.invitee_name}’s invitation. The coordinator records the "
        "patient's written consent next, then sends it."
    )
    return redirect(url_for("web_approvals.invitations"))
