"""/groups: create, read, change, lifecycle, plans, enrollments and history of groups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, url_for
from marshmallow import Schema

from domain.admission import waiting_for
from domain.group import TherapyGroup
from domain.values import EnrollmentStatus
from service.context import circles, fresh_views
from service.endpoint import COORDINATOR, STAFF, THERAPIST, Call, Reply, endpoint
from service.history import history
from service.paging import encode_cursor, keyset_page, page, position_after
from service.routes.access import require_facilitator, require_visible
from service.routes.enrollments import enrollment_data
from service.schemas import enrollments as es
from service.schemas import groups as gs
from service.schemas import sessions as ss
from service.schemas.common import HistoryPage, PageQuery, attributes

bp = Blueprint("groups", __name__)
TAG = "groups"


class GroupShown:
    """The group as the API shows it: the aggregate, with whether it admits newcomers now."""

    def __init__(self, group: TherapyGroup) -> None:
        app = circles()
        self._group = group
        self.admission = app.admission_of(group, app.clock())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._group, name)


def _group_reply(group: TherapyGroup, status: int = 200) -> Reply:
    return Reply(GroupShown(group), status=status, etag=group.version)


@bp.post("/groups")
@endpoint(
    summary="Create a group",
    tag=TAG,
    roles=[COORDINATOR],
    body=gs.GroupCreate(),
    response=gs.Group(),
    status=201,
    etag=True,
)
def create_group(call: Call) -> Reply:
    group_id = circles().create_group(call.actor, **call.body)
    reply = _group_reply(circles().get_group(group_id), 201)
    reply.headers["Location"] = url_for("groups.get_group", group_id=group_id)
    return reply


@bp.get("/groups")
@endpoint(
    summary="List groups, optionally by status, modality or facilitator",
    description="A therapist key lists only the groups that therapist facilitates.",
    tag=TAG,
    roles=STAFF,
    query=gs.GroupListQuery(),
    response=gs.GroupPage(),
)
def list_groups(call: Call) -> dict[str, Any]:
    directory = fresh_views("directory").directory
    status = call.query.get("status")
    modality = call.query.get("modality")
    limit = call.query["limit"]
    after = position_after(call.query.get("cursor"))
    rows: list[Any] = []
    more = False
    while True:
        batch = directory.groups(
            after,
            limit + 1,
            None if status is None else status.value,
            modality=None if modality is None else modality.value,
            therapist_id=call.query.get("therapist_id"),
        )
        for row in batch:
            if len(rows) == limit:
                more = True
                break
            if call.therapist_id is None or _facilitates(call.therapist_id, row.group_id):
                rows.append(row)
        if more or len(batch) <= limit:
            break
        after = batch[-1].cursor
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].cursor) if more else None}


def _facilitates(therapist_id: str, group_id: Any) -> bool:
    return therapist_id in circles().get_group(group_id).facilitator_ids


@bp.get("/groups/<group_id>")
@endpoint(
    summary="Show a group",
    tag=TAG,
    roles=STAFF,
    response=gs.Group(),
    errors=[404],
    etag=True,
)
def get_group(call: Call, group_id: str) -> Reply:
    group = circles().get_group(group_id)
    require_facilitator(call, group)
    return _group_reply(group)


@bp.patch("/groups/<group_id>")
@endpoint(
    summary="Change a group's name, video link, sizes, fees, course-length override or "
    "admission rule",
    description="Fees apply to sessions that start after fees_effective_from (default now). "
    "A length_override_reason lets the course be planned and started past its modality's "
    "session bounds (SPEC §2); it is recorded as its own event in the group's history. "
    "Raising max_size seats waitlisted patients first come first served in the same change; "
    "once the group has closed to newcomers, only with an admission_override_reason (which, "
    "sent alone, seats the waitlist into seats a late withdrawal left free).",
    tag=TAG,
    roles=[COORDINATOR],
    body=gs.GroupPatch(),
    response=gs.Group(),
    errors=[404, 409],
    if_match=True,
    etag=True,
)
def update_group(call: Call, group_id: str) -> Reply:
    group = circles().update_group(
        group_id, call.actor, expected_version=call.expected_version, **call.body
    )
    return _group_reply(group)


def _transition(
    summary: str, body: Schema | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """What every lifecycle route shares: a coordinator moves the group on, naming the version
    read (If-Match), and gets the group back; a transition its state does not allow is 409."""
    return endpoint(
        summary=summary,
        tag=TAG,
        roles=[COORDINATOR],
        body=body or gs.NoBody(),
        response=gs.Group(),
        errors=[404, 409],
        if_match=True,
        etag=True,
    )


@bp.post("/groups/<group_id>/open")
@_transition("Open a planned group for enrollment")
def open_group(call: Call, group_id: str) -> Reply:
    circles().open_group(group_id, call.actor, expected_version=call.expected_version)
    return _group_reply(circles().get_group(group_id))


@bp.post("/groups/<group_id>/start")
@_transition("Start the course (needs min_size enrolled and the course planned)")
def start_group(call: Call, group_id: str) -> Reply:
    circles().start_group(group_id, call.actor, expected_version=call.expected_version)
    return _group_reply(circles().get_group(group_id))


@bp.post("/groups/<group_id>/complete")
@_transition("Complete a running group; its enrollments complete")
def complete_group(call: Call, group_id: str) -> Reply:
    circles().complete_group(group_id, call.actor, expected_version=call.expected_version)
    return _group_reply(circles().get_group(group_id))


@bp.post("/groups/<group_id>/cancel")
@_transition("Cancel the group, its future sessions and enrollments", gs.ReasonIn())
def cancel_group(call: Call, group_id: str) -> Reply:
    circles().cancel_group(
        group_id, call.actor, call.body["reason"], expected_version=call.expected_version
    )
    return _group_reply(circles().get_group(group_id))


@bp.post("/groups/<group_id>/sessions")
@endpoint(
    summary="Plan sessions, or add a make-up session",
    description="Send a plan (first_date, start_time, duration_minutes, cadence, count, …) "
    "or a make-up ({make_up_for, starts_at}). Double booking a therapist or room is refused "
    "with 409 naming the colliding session.",
    tag=TAG,
    roles=[COORDINATOR],
    body=(ss.MakeUpIn(), ss.PlanIn()),
    response=ss.SessionList(),
    status=201,
    errors=[404, 409],
    if_match=True,
)
def plan_sessions(call: Call, group_id: str) -> dict[str, Any]:
    app = circles()
    if "make_up_for" in call.body:
        ids = [
            app.add_make_up_session(
                group_id, call.actor, expected_version=call.expected_version, **call.body
            )
        ]
    else:
        ids = app.plan_sessions(
            group_id, call.actor, expected_version=call.expected_version, **call.body
        )
    return {"sessions": [app.get_session(i) for i in ids]}


@bp.post("/groups/<group_id>/sessions/preview")
@endpoint(
    summary="Preview a plan: the sessions it would create, nothing saved",
    description="The same body as a plan to POST /groups/{id}/sessions, refused the same "
    "way. Answers each session's local start, the closures that pushed it, whether the "
    "clocks changed before it, and every therapist or room collision (where saving stops "
    "at the first with 409), and the course-length rule saving would break.",
    tag=TAG,
    roles=[COORDINATOR],
    body=ss.PlanIn(),
    response=ss.PlanPreview(),
    errors=[404, 409],
)
def preview_plan(call: Call, group_id: str) -> Any:
    return circles().preview_plan(group_id, call.actor, **call.body)


@bp.get("/groups/<group_id>/sessions")
@endpoint(
    summary="The group's sessions in number order",
    description="A therapist key reads only the groups that therapist facilitates; others "
    "answer 404.",
    tag=TAG,
    roles=[COORDINATOR, THERAPIST],
    query=PageQuery(),
    response=ss.SessionPage(),
    errors=[404],
)
def group_sessions(call: Call, group_id: str) -> dict[str, Any]:
    app = circles()
    group = app.get_group(group_id)
    require_visible(call, group, "group", group.id)
    return page(app.sessions_of(group), call.query)


@bp.post("/groups/<group_id>/enrollments")
@endpoint(
    summary="Enroll a patient (enrolled, or waitlisted when the group is full)",
    description="Needs an open or running group. Once the group has closed to newcomers "
    "(its admission_closes_after-th meeting has started) an admission_override_reason is "
    "required; without one the answer is 409 admission-closed.",
    tag=TAG,
    roles=[COORDINATOR],
    body=es.EnrollIn(),
    response=es.Enrollment(),
    status=201,
    errors=[404, 409],
    if_match=True,
    etag=True,
)
def enroll(call: Call, group_id: str) -> Reply:
    app = circles()
    enrollment_id, _ = app.enroll(
        group_id, call.actor, expected_version=call.expected_version, **call.body
    )
    enrollment = app.get_enrollment(enrollment_id)
    return Reply(
        enrollment_data(enrollment),
        status=201,
        etag=enrollment.version,
        headers={"Location": url_for("enrollments.get_enrollment", enrollment_id=enrollment_id)},
    )


@bp.get("/groups/<group_id>/enrollments")
@endpoint(
    summary="The group's enrollments in the order they came, with waitlist positions",
    description="A therapist key reads only the groups that therapist facilitates; others "
    "answer 404.",
    tag=TAG,
    roles=[COORDINATOR, THERAPIST],
    query=es.EnrollmentQuery(),
    response=es.EnrollmentPage(),
    errors=[404],
)
def group_enrollments(call: Call, group_id: str) -> dict[str, Any]:
    group = circles().get_group(group_id)
    require_visible(call, group, "group", group.id)
    directory = fresh_views("directory").directory
    status = call.query.get("status")
    limit = call.query["limit"]
    rows = directory.enrollments(
        group.id,
        position_after(call.query.get("cursor")),
        limit + 1,
        None if status is None else status.value,
    )
    found = keyset_page(rows, limit, lambda row: row.cursor)
    admission = circles().admission_of(group, circles().clock())
    found["items"] = [
        {
            **attributes(es.EnrollmentRow(), row),
            "waiting_for": waiting_for(EnrollmentStatus(row.status), admission),
        }
        for row in found["items"]
    ]
    return found


@bp.get("/groups/<group_id>/history")
@endpoint(
    summary="Every event of the group, with time, type, actor and data",
    tag=TAG,
    roles=[COORDINATOR],
    query=PageQuery(),
    response=HistoryPage(),
    errors=[404],
)
def group_history(call: Call, group_id: str) -> dict[str, Any]:
    return page(history(circles(), group_id, TherapyGroup, "group"), call.query)
