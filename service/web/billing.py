"""Billing's pages (SPEC §8): cost reports, the claim CSV, month close, patient statements.

For billing (read-only) and coordinators. Every number comes from the JSON reports'
handlers through ``invoke``: the cost report is ``GET /reports/costs``, the claim lines and
CSV ``GET /reports/claims``, month close ``GET /reports/month-close``, a statement's totals
``GET /patients/{id}/statement`` — so a page shows exactly what the JSON says.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, request
from werkzeug.wrappers import Response as BaseResponse

from service.context import services
from service.endpoint import BILLING, COORDINATOR, invoke
from service.routes import views as view_routes
from service.web.coordinator import MODALITY_SHORT
from service.web.pages import REFUSALS, FormProblem, current_user, now, page, problem_of, render
from service.web.statement_pdf import statements_pdf
from service.web.therapist import STATUS_LABELS

bp = Blueprint("web_billing", __name__, template_folder="templates")

ROLES = (BILLING, COORDINATOR)
FILTERS = ("from", "to", "group_id", "therapist_id", "modality")
KIND_LABELS = {"intake": "Intake", "regular": "Regular", "maintenance": "Maintenance"}
PLACE_LABELS = {"in_person": "In person", "telehealth": "Telehealth"}


def last_month() -> tuple[date, date]:
    """The calendar month before today's, in the clinic's zone."""
    today = now().astimezone(ZoneInfo(current_app.config["CLINIC_TIMEZONE"])).date()
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def _asked(names: tuple[str, ...]) -> dict[str, str]:
    """The filters as sent (blank ones dropped), the period defaulting to last month."""
    asked = {n: request.args.get(n, "").strip() for n in names}
    if "from" in asked and not asked["from"] and not asked.get("to"):
        start, end = last_month()
        asked["from"], asked["to"] = start.isoformat(), end.isoformat()
    return asked


def _run(
    view: Callable[..., Any], query: dict[str, str], **path: Any
) -> tuple[Any, FormProblem | None]:
    try:
        return invoke(
            view, current_user(), query={k: v for k, v in query.items() if v}, **path
        ), None
    except REFUSALS as error:
        return None, problem_of(error)


def _group_names() -> dict[str, str]:
    directory = services().require_reads().projector.directory
    return {str(g.group_id): g.name for g in directory.groups(limit=100_000)}


def _labels() -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS,
        "kind_labels": KIND_LABELS,
        "place_labels": PLACE_LABELS,
        "modalities": MODALITY_SHORT,
    }


@bp.get("/web/billing/costs")
@page(roles=ROLES)
def costs() -> BaseResponse:
    asked = _asked(FILTERS)
    report, problem = _run(view_routes.cost_report, asked)
    return render(
        "web/billing_costs.html",
        status=200 if problem is None else problem.status,
        asked=asked,
        report=report,
        problem=problem,
        groups=_group_names(),
        **_labels(),
    )


@bp.get("/web/billing/claims.csv")
@page(roles=ROLES)
def claims_csv() -> BaseResponse:
    asked = _asked(FILTERS)
    found, problem = _run(view_routes.claims, {**asked, "format": "csv"})
    if problem is not None:
        return render("web/error.html", status=problem.status, title=problem.title,
                      detail=problem.detail)  # fmt: skip
    response: BaseResponse = found
    return response


@bp.get("/web/billing/month-close")
@page(roles=ROLES)
def month_close() -> BaseResponse:
    asked = _asked(("from", "to", "group_id"))
    found, problem = _run(view_routes.month_close, asked)
    return render(
        "web/billing_month_close.html",
        status=200 if problem is None else problem.status,
        asked=asked,
        found=found,
        problem=problem,
        groups=_group_names(),
        **_labels(),
    )


def statements_for(
    asked: dict[str, str], patient_id: str | None = None
) -> tuple[list[dict[str, Any]], FormProblem | None]:
    """Each patient's statement over the period: lines from the claim report (they carry
    the fee in force), totals from ``GET /patients/{id}/statement``."""
    period = {"from": asked.get("from", ""), "to": asked.get("to", "")}
    found, problem = _run(view_routes.claims, period)
    if problem is not None:
        return [], problem
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for line in found["lines"]:
        if patient_id is None or line["patient_id"] == patient_id:
            by_patient.setdefault(line["patient_id"], []).append(line)
    directory = services().require_reads().projector.directory
    result = []
    for pid in sorted(by_patient):
        statement, problem = _run(view_routes.statement, period, patient_id=pid)
        if problem is not None:
            return [], problem
        enrolled = directory.enrollments_for_patient(pid)
        result.append(
            {
                "patient_id": pid,
                "name": enrolled[-1].patient_name if enrolled else pid,
                "lines": by_patient[pid],
                "totals": statement["totals"],
            }
        )
    return result, None


@bp.get("/web/billing/statements")
@page(roles=ROLES)
def statements() -> BaseResponse:
    asked = _asked(("from", "to"))
    found, problem = statements_for(asked)
    return render(
        "web/billing_statements.html",
        status=200 if problem is None else problem.status,
        asked=asked,
        statements=found,
        problem=problem,
        groups=_group_names(),
        single=False,
        **_labels(),
    )


def _pdf(patient_id: str | None, filename: str) -> BaseResponse:
    asked = _asked(("from", "to"))
    found, problem = statements_for(asked, patient_id)
    if problem is not None:
        return render("web/error.html", status=problem.status, title=problem.title,
                      detail=problem.detail)  # fmt: skip
    labels = {"kind": KIND_LABELS, "status": STATUS_LABELS}
    body = statements_pdf(found, (asked["from"], asked["to"]), _group_names(), labels)
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/web/billing/statements.pdf")
@page(roles=ROLES)
def statements_as_pdf() -> BaseResponse:
    return _pdf(None, "statements.pdf")


@bp.get("/web/billing/statements/<patient_id>/pdf")
@page(roles=ROLES)
def statement_as_pdf(patient_id: str) -> BaseResponse:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in patient_id)[:60]
    return _pdf(patient_id, f"statement-{safe}.pdf")


@bp.get("/web/billing/statements/<patient_id>")
@page(roles=ROLES)
def statement(patient_id: str) -> BaseResponse:
    asked = _asked(("from", "to"))
    found, problem = statements_for(asked, patient_id)
    return render(
        "web/billing_statements.html",
        status=200 if problem is None else problem.status,
        asked=asked,
        statements=found,
        problem=problem,
        groups=_group_names(),
        single=True,
        patient_id=patient_id,
        **_labels(),
    )
