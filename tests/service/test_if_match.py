"""If-Match is honoured on every write to an existing aggregate (issue 11, finding 8).

Like the R5 role table: every such route, a stale ETag (one version behind), 412 and
nothing written. A second test makes sure no write route is missing from the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from projections.store import StoreSettings
from service.endpoint import spec_of
from tests.conftest import Clock
from tests.service.conftest import Api, make_api, problem

CONSENT = {"signed_by": "Pat", "signed_at": "2027-01-03T10:00:00+00:00", "document_ref": "d-1"}
PLAN = {
    "first_date": "2027-06-01",
    "start_time": "10:00",
    "duration_minutes": 90,
    "cadence": "weekly",
    "count": 12,
}

# (method, path, role, body, the aggregate whose version If-Match names)
TABLE: list[tuple[str, str, str, Any, str]] = [
    ("PATCH", "/groups/{group}", "coordinator", {"name": "Renamed"}, "group"),
    ("POST", "/groups/{group}/open", "coordinator", {}, "group"),
    ("POST", "/groups/{group}/start", "coordinator", {}, "group"),
    ("POST", "/groups/{group}/complete", "coordinator", {}, "group"),
    ("POST", "/groups/{group}/cancel", "coordinator", {"reason": "r"}, "group"),
    ("POST", "/groups/{group}/sessions", "coordinator", PLAN, "group"),
    (
        "POST",
        "/groups/{group}/enrollments",
        "coordinator",
        {"patient_id": "p-9", "patient_name": "N"},
        "group",
    ),
    (
        "POST",
        "/sessions/{session}/reschedule",
        "coordinator",
        {"starts_at": "2027-03-03T18:00", "reason": "r"},
        "session",
    ),
    ("POST", "/sessions/{session}/cancel", "coordinator", {"reason": "r"}, "session"),
    (
        "PUT",
        "/sessions/{session}/attendance",
        "coordinator",
        {"records": [{"patient_id": "p-1", "status": "present"}]},
        "session",
    ),
    (
        "POST",
        "/sessions/{session}/invitations",
        "coordinator",
        {"patient_id": "p-1", "invitee_name": "Kim", "relationship": "parent"},
        "session",
    ),
    (
        "POST",
        "/sessions/{session}/cancellations",
        "coordinator",
        {"patient_id": "p-1", "told_at": "2027-01-04T08:00"},
        "session",
    ),
    (
        "POST",
        "/enrollments/{enrollment}/intake",
        "coordinator",
        {"primary_area": "grief", "inventory_done": True},
        "enrollment",
    ),
    ("POST", "/enrollments/{enrollment}/withdraw", "coordinator", {"reason": "r"}, "enrollment"),
    ("POST", "/invitations/{proposed}/approve", "therapist", {}, "proposed"),
    ("POST", "/invitations/{approved}/consent", "coordinator", CONSENT, "approved"),
    ("POST", "/invitations/{consented}/send", "coordinator", {}, "consented"),
    ("POST", "/invitations/{consented}/revoke", "coordinator", {"reason": "r"}, "consented"),
    ("DELETE", "/feed-tokens/{feed_token}", "coordinator", None, "feed_token"),
]

# Writes that are not to an existing aggregate, or have no version a client could hold.
NOT_IN_TABLE = {
    ("POST", "/groups"): "creates the group",
    ("POST", "/api-keys"): "creates a key (a row, not an aggregate)",
    ("DELETE", "/api-keys/<key_id>"): "a key is a row without versions; revoking is final",
    ("POST", "/patients/<patient_id>/feed-tokens"): "issues a new token (the old one rotates)",
    ("POST", "/therapists/<therapist_id>/feed-tokens"): "issues a new token",
    ("POST", "/i/<token>/accept"): "the invitee holds a link, not an ETag; answering twice is 409",
    ("POST", "/i/<token>/decline"): "as accept",
    ("POST", "/groups/<group_id>/sessions/preview"): "writes nothing: a plan's dry run",
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, dict[str, str]]]:
    from tests.service.test_roles import _url

    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("if-match") / "c.sqlite3"
        yield from _world(StoreSettings("sqlite", sqlite_path=path))
        return
    import uuid

    import psycopg

    from tests.conftest import _postgres_or_skip

    base = _postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base.pg_conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield from _world(StoreSettings.from_url(f"{_url(base)}?schema={schema}"))
    finally:
        with psycopg.connect(base.pg_conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _world(store: StoreSettings) -> Iterator[tuple[Api, dict[str, str]]]:
    for api in make_api(store, Clock()):
        group = api.group(guest_limit=4)
        session = api.plan(group["id"])[0]
        enrollment = api.enroll(group["id"], "p-1")
        ids = {
            "group": group["id"],
            "session": session["id"],
            "enrollment": enrollment["id"],
            "feed_token": api.post("/patients/p-1/feed-tokens").get_json()["id"],
        }
        for state in ("proposed", "approved", "consented"):
            iid = api.post(
                f"/sessions/{session['id']}/invitations",
                json={"patient_id": "p-1", "invitee_name": state, "relationship": "friend"},
            ).get_json()["id"]
            ids[state] = iid
            if state != "proposed":
                assert api.post(f"/invitations/{iid}/approve", role="therapist").status_code == 200
            if state == "consented":
                assert api.post(f"/invitations/{iid}/consent", json=CONSENT).status_code == 200
        yield api, ids


def _version(api: Api, aggregate_id: str) -> int:
    circles = api.app.extensions["circles"].circles
    version: int = circles.repository.get(UUID(aggregate_id)).version
    return version


@pytest.mark.parametrize(
    "method,path,role,body,target", TABLE, ids=[f"{m} {p}" for m, p, *_ in TABLE]
)
def test_a_stale_if_match_is_refused_and_nothing_is_written(
    world: tuple[Api, dict[str, str]], method: str, path: str, role: str, body: Any, target: str
) -> None:
    api, ids = world
    before = _version(api, ids[target])
    stale = f'"{before - 1}"'  # what a client read one change ago
    r = api.call(method, path.format(**ids), role=role, json=body, headers={"If-Match": stale})
    answer = problem(r, 412)
    assert r.headers["ETag"] == f'"{before}"', answer  # the version to reload
    assert _version(api, ids[target]) == before


def test_the_table_covers_every_write_to_an_existing_aggregate(
    world: tuple[Api, dict[str, str]],
) -> None:
    api, _ = world
    in_table = {(m, p.replace("{", "<").replace("}", ">")) for m, p, *_ in TABLE}
    names = {
        "<group>": "<group_id>",
        "<session>": "<session_id>",
        "<enrollment>": "<enrollment_id>",
        "<feed_token>": "<token_id>",
        "<proposed>": "<invitation_id>",
        "<approved>": "<invitation_id>",
        "<consented>": "<invitation_id>",
    }
    covered = set()
    for method, path in in_table:
        for short, param in names.items():
            path = path.replace(short, param)
        covered.add((method, path))
    for rule in api.app.url_map.iter_rules():
        if rule.endpoint.startswith("web_"):
            # A page's form runs a JSON route's own handler through ``invoke``: the table of
            # JSON routes covers the rule; tests/web covers what each form sends as its version.
            continue
        spec = spec_of(api.app.view_functions[rule.endpoint])
        for method in sorted((rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}):
            route = (method, rule.rule)
            if route in NOT_IN_TABLE:
                assert not (spec and spec.if_match) or route not in covered
                continue
            assert route in covered, f"{route} writes: add it to TABLE or NOT_IN_TABLE"
            assert spec is not None and spec.if_match, route
