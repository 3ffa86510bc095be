"""Enrolling, intake and withdrawal from pages, on a group's roster and waitlist.

Enroll is ``POST /groups/{id}/enrollments``, intake ``POST /enrollments/{id}/intake`` and
withdraw ``POST /enrollments/{id}/withdraw``, each through ``invoke``: capacity, the
waitlist, closed groups and their admission override are the domain's rules, and the page
says what happened in words — enrolled, or waitlisted at position N; who was promoted.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from domain.errors import AdmissionClosedError
from service.endpoint import COORDINATOR, invoke
from service.routes import enrollments as enrollment_routes
from service.routes import groups as group_routes
from service.web.coordinator import AREA_LABELS
from service.web.forms import refusal
from service.web.pages import REFUSALS, FormProblem, current_user, notice, page, render
from service.web.shared import page_refusal

bp = Blueprint("web_enroll", __name__, template_folder="templates")

ENROLL_LABELS = {
    "patient_id": "Patient id",
    "patient_name": "Patient name",
    "admission_override_reason": "Reason to admit after the group closed",
}
ENROLLMENT_LABELS = {
    "primary_area": "Primary problem area",
    "inventory_done": "Interpersonal inventory",
    "reason": "Why is the patient leaving",
    "admission_override_reason": "Reason to seat the next patient although the group closed",
}


def _given(name: str) -> str:
    return str(request.form.get(name, "")).strip()


def _group(group_id: Any) -> Any:
    try:
        return invoke(group_routes.get_group, current_user(), group_id=str(group_id)).data
    except REFUSALS as error:
        raise page_refusal(error) from None


# --- enroll ---------------------------------------------------------------------------------


@bp.route("/web/groups/<group_id>/enroll", methods=["GET", "POST"])
@page(roles=(COORDINATOR,))
def enroll(group_id: str) -> BaseResponse:
    group = _group(group_id)
    problem: FormProblem | None = None
    errors: dict[str, list[str]] = {}
    sent: dict[str, str] = {}
    if request.method == "POST":
        sent = {k: v for k, v in request.form.items() if k != "csrf_token"}
        body = {n: _given(n) for n in ENROLL_LABELS if _given(n)}
        try:
            reply = invoke(group_routes.enroll, current_user(), body=body, group_id=group_id)
        except REFUSALS as error:
            problem, errors = refusal(error, ENROLL_LABELS)
            group = _group(group_id)
            if isinstance(error, AdmissionClosedError):
                errors["admission_override_reason"] = [
                    "Give the reason this patient joins although the group has closed."
                ]
        else:
            notice(_enrolled_words(reply.data, _group(group_id)))
            return redirect(url_for("web_coord.group", group_id=group_id) + "#h-roster")
    return render(
        "web/enroll.html",
        status=problem.status if problem else 200,
        group=group,
        problem=problem,
        errors=errors,
        sent=sent,
        nav_current="web_coord.groups",
    )


def _enrolled_words(enrollment: dict[str, Any], group: Any) -> str:
    who = f"{enrollment['patient_name']} ({enrollment['patient_id']})"
    if enrollment["status"].value == "enrolled":
        seat = group.enrolled.index(enrollment["patient_id"]) + 1
        admitted = (
            " Admitted although the group has closed to newcomers: "
            f"{enrollment['admission_override_reason']}."
            if enrollment["admission_override_reason"]
            else ""
        )
        return f"{who} is enrolled: seat {seat} of {group.max_size}.{admitted}"
    position = group.waitlist.index(enrollment["patient_id"]) + 1
    waiting = (
        "the group has closed to newcomers, so this is a wait for the next group"
        if enrollment["waiting_for"] is not None and enrollment["waiting_for"].value == "next_group"
        else "the group is full"
    )
    return f"{who} is waitlisted, position {position}: {waiting}."


# --- one enrollment: intake and withdrawal ---------------------------------------------------


@bp.get("/web/enrollments/<enrollment_id>")
@page(roles=(COORDINATOR,))
def enrollment(enrollment_id: str) -> BaseResponse:
    return _enrollment_page(enrollment_id)


def _enrollment_page(
    enrollment_id: str,
    problem: FormProblem | None = None,
    form: str | None = None,
    errors: dict[str, list[str]] | None = None,
    sent: dict[str, str] | None = None,
) -> BaseResponse:
    try:
        shown = invoke(
            enrollment_routes.get_enrollment, current_user(), enrollment_id=enrollment_id
        ).data
    except REFUSALS as error:
        raise page_refusal(error) from None
    group = _group(shown["group_id"])
    position = (
        group.waitlist.index(shown["patient_id"]) + 1
        if shown["patient_id"] in group.waitlist
        else None
    )
    return render(
        "web/enrollment.html",
        status=problem.status if problem else 200,
        enrollment=shown,
        group=group,
        position=position,
        areas=AREA_LABELS,
        problem=problem,
        failed_form=form,
        errors=errors or {},
        sent=sent or {},
        nav_current="web_coord.groups",
    )


@bp.post("/web/enrollments/<enrollment_id>/intake")
@page(roles=(COORDINATOR,))
def intake(enrollment_id: str) -> BaseResponse:
    sent = {k: v for k, v in request.form.items() if k != "csrf_token"}
    body: dict[str, Any] = {"inventory_done": request.form.get("inventory_done") == "yes"}
    if _given("primary_area"):
        body["primary_area"] = _given("primary_area")
    try:
        reply = invoke(
            enrollment_routes.record_intake,
            current_user(),
            body=body,
            enrollment_id=enrollment_id,
        )
    except REFUSALS as error:
        problem, errors = refusal(error, ENROLLMENT_LABELS)
        return _enrollment_page(enrollment_id, problem, "intake", errors, sent)
    shown = reply.data
    notice(
        f"Intake recorded for {shown['patient_name']}: "
        f"{AREA_LABELS[shown['primary_area'].value].lower()}, inventory done."
    )
    return redirect(url_for("web_coord.group", group_id=shown["group_id"]) + "#h-roster")


@bp.post("/web/enrollments/<enrollment_id>/withdraw")
@page(roles=(COORDINATOR,))
def withdraw(enrollment_id: str) -> BaseResponse:
    sent = {k: v for k, v in request.form.items() if k != "csrf_token"}
    body = {n: _given(n) for n in ("reason", "admission_override_reason") if _given(n)}
    body.setdefault("reason", "")
    try:
        reply = invoke(
            enrollment_routes.withdraw, current_user(), body=body, enrollment_id=enrollment_id
        )
    except REFUSALS as error:
        problem, errors = refusal(error, ENROLLMENT_LABELS)
        return _enrollment_page(enrollment_id, problem, "withdraw", errors, sent)
    left = reply.data
    notice(_withdrawn_words(left))
    return redirect(url_for("web_coord.group", group_id=left["group_id"]) + "#h-roster")


def _withdrawn_words(left: dict[str, Any]) -> str:
    who = f"{left['patient_name']} ({left['patient_id']})"
    if left["enrolled_at"] is None:  # never seated: they were waiting
        return f"{who} was taken off the waitlist: {left['end_reason']}."
    said = f"{who} was withdrawn: {left['end_reason']}."
    promoted_id = left["promoted_enrollment_id"]
    if promoted_id is not None:
        promoted = invoke(
            enrollment_routes.get_enrollment, current_user(), enrollment_id=str(promoted_id)
        ).data
        return (
            f"{said} {promoted['patient_name']} ({promoted['patient_id']}) was promoted from "
            "the waitlist into the seat."
        )
    group = _group(left["group_id"])
    if not group.waitlist:
        return f"{said} Nobody was waiting; the seat is free."
    if group.admission.closed:
        return (
            f"{said} The group has closed to newcomers, so nobody was promoted: "
            f"{len(group.waitlist)} waiting for the next group."
        )
    return f"{said} Nobody was promoted."
