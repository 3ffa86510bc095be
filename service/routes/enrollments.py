"""/enrollments: show, intake, withdraw (promoting the waitlist), history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from domain.admission import waiting_for
from domain.enrollment import Enrollment
from domain.values import EnrollmentStatus
from service.context import circles
from service.endpoint import COORDINATOR, Call, Reply, endpoint
from service.history import history
from service.paging import page
from service.schemas import enrollments as es
from service.schemas.common import HistoryPage, PageQuery, attributes

bp = Blueprint("enrollments", __name__)
TAG = "enrollments"


def enrollment_data(enrollment: Enrollment) -> dict[str, Any]:
    """The enrollment as the API shows it, with what a waitlisted patient is waiting for."""
    waiting = None
    if enrollment.status is EnrollmentStatus.WAITLISTED:
        app = circles()
        admission = app.admission_of(app.get_group(enrollment.group_id), app.clock())
        waiting = waiting_for(enrollment.status, admission)
    return {**attributes(es.Enrollment(), enrollment), "waiting_for": waiting}


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
    return Reply(enrollment_data(enrollment), etag=enrollment.version)


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
    return Reply(enrollment_data(enrollment), etag=enrollment.version)


@bp.post("/enrollments/<enrollment_id>/withdraw")
@endpoint(
    summary="Withdraw a patient; the first on the waitlist takes the seat",
    description="The patient's guest invitations to sessions still to come are revoked. Once "
    "the group has closed to newcomers the seat stays free (the waitlist waits for the next "
    "group) unless an admission_override_reason is given.",
    tag=TAG,
    roles=[COORDINATOR],
    body=es.WithdrawIn(),
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
    data = {**enrollment_data(enrollment), "promoted_enrollment_id": promoted}
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
