"""/enrollments: show, intake, withdraw (promoting the waitlist), history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from domain.enrollment import Enrollment
from service.context import circles
from service.endpoint import COORDINATOR, Call, Reply, endpoint
from service.history import history
from service.paging import page
from service.schemas import enrollments as es
from service.schemas.common import HistoryPage, PageQuery, attributes
from service.schemas.groups import ReasonIn

bp = Blueprint("enrollments", __name__)
TAG = "enrollments"


@bp.get("/enrollments/<enrollment_id>")
@endpoint(
    summary="Show an enrollment",
    tag=TAG,
    roles=[COORDINATOR],
    response=es.Enrollment(),
    errors=[404],
    etag=True,
)
def get_enrollment(call: Call, enrollment_id: str) -> Reply:
    enrollment = circles().get_enrollment(enrollment_id)
    return Reply(enrollment, etag=enrollment.version)


@bp.post("/enrollments/<enrollment_id>/intake")
@endpoint(
    summary="Record the intake: primary problem area, interpersonal inventory done",
    tag=TAG,
    roles=[COORDINATOR],
    body=es.IntakeIn(),
    response=es.Enrollment(),
    errors=[404, 409],
    if_match=True,
    etag=True,
)
def record_intake(call: Call, enrollment_id: str) -> Reply:
    enrollment = circles().record_intake(
        enrollment_id, call.actor, expected_version=call.expected_version, **call.body
    )
    return Reply(enrollment, etag=enrollment.version)


@bp.post("/enrollments/<enrollment_id>/withdraw")
@endpoint(
    summary="Withdraw a patient; the first on the waitlist takes the seat",
    tag=TAG,
    roles=[COORDINATOR],
    body=ReasonIn(),
    response=es.EnrollmentWithdrawn(),
    errors=[404, 409],
    if_match=True,
    etag=True,
)
def withdraw(call: Call, enrollment_id: str) -> Reply:
    app = circles()
    promoted = app.withdraw(
        enrollment_id, call.actor, expected_version=call.expected_version, **call.body
    )
    enrollment: Enrollment = app.get_enrollment(enrollment_id)
    data = {**attributes(es.Enrollment(), enrollment), "promoted_enrollment_id": promoted}
    return Reply(data, etag=enrollment.version)


@bp.get("/enrollments/<enrollment_id>/history")
@endpoint(
    summary="Every event of the enrollment, with time, type, actor and data",
    tag=TAG,
    roles=[COORDINATOR],
    query=PageQuery(),
    response=HistoryPage(),
    errors=[404],
)
def enrollment_history(call: Call, enrollment_id: str) -> dict[str, Any]:
    return page(history(circles(), enrollment_id, Enrollment, "enrollment"), call.query)
