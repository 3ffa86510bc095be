"""R5: every route × every role (and no key) against the table in SPEC §5."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from projections.store import StoreSettings
from tests.conftest import Clock
from tests.service.conftest import Api, make_api

C, T, B, A = "coordinator", "therapist", "billing", "admin"
STAFF = {C, T, B}
ROLES = [C, T, B, A, None]

# (method, path, roles allowed) — written from SPEC §5, not read from the app.
TABLE: list[tuple[str, str, set[str] | None]] = [
    ("GET", "/healthz", None),
    ("GET", "/healthz/projections", None),
    ("GET", "/openapi.json", None),
    ("GET", "/docs", None),
    ("POST", "/groups", {C}),
    ("GET", "/groups", STAFF),
    ("GET", "/groups/{group}", STAFF),
    ("PATCH", "/groups/{group}", {C}),
    ("POST", "/groups/{group}/sessions", {C}),
    ("POST", "/groups/{group}/sessions/preview", {C}),
    ("GET", "/groups/{group}/sessions", {C, T}),
    ("POST", "/groups/{group}/open", {C}),
    ("POST", "/groups/{group}/start", {C}),
    ("POST", "/groups/{group}/complete", {C}),
    ("POST", "/groups/{group}/cancel", {C}),
    ("POST", "/groups/{group}/enrollments", {C}),
    ("GET", "/groups/{group}/enrollments", {C, T}),
    ("GET", "/enrollments/{enrollment}", {C}),
    ("POST", "/enrollments/{enrollment}/intake", {C}),
    ("POST", "/enrollments/{enrollment}/withdraw", {C}),
    ("GET", "/sessions/{session}", {C, T}),
    ("GET", "/sessions/{session}/roster", {C, T}),
    ("POST", "/sessions/{session}/cancellations", {C, T}),
    ("POST", "/sessions/{session}/reschedule", {C}),
    ("POST", "/sessions/{session}/cancel", {C}),
    ("PUT", "/sessions/{session}/attendance", {C, T}),
    ("POST", "/sessions/{session}/invitations", {C}),
    ("GET", "/invitations/{invitation}", {C}),
    ("POST", "/invitations/{invitation}/approve", {T}),
    ("POST", "/invitations/{invitation}/consent", {C}),
    ("POST", "/invitations/{invitation}/send", {C}),
    ("POST", "/invitations/{invitation}/revoke", {C}),
    ("GET", "/therapists/t-ana/sessions", STAFF),
    ("GET", "/rooms/room-1/sessions", STAFF),
    ("GET", "/sessions", {C, B}),
    ("GET", "/reports/attendance?group_id={group}", {C, T}),
    ("GET", "/patients/p-1/attendance", {C, T}),
    ("GET", "/reports/costs", {B, C}),
    ("GET", "/reports/claims", {B, C}),
    ("GET", "/reports/month-close", {B, C}),
    ("GET", "/patients/p-1/statement", {B, C}),
    ("GET", "/groups/{group}/history", {C}),
    ("GET", "/enrollments/{enrollment}/history", {C}),
    ("GET", "/sessions/{session}/history", {C}),
    ("GET", "/invitations/{invitation}/history", {C}),
    ("GET", "/invitations/{invitation}/messages", {C}),
    ("GET", "/api-keys", {A}),
    ("POST", "/api-keys", {A}),
    ("DELETE", "/api-keys/{key}", {A}),
    ("POST", "/patients/p-1/feed-tokens", {C}),
    ("POST", "/therapists/t-ana/feed-tokens", {C, T}),  # T: its own id only
    ("DELETE", "/feed-tokens/{feed_token}", {C}),
    ("GET", "/groups/{group}/calendar.ics", STAFF),
    ("GET", "/feeds/{feed}.ics", None),
    ("GET", "/i/{invite}", None),
    ("GET", "/i/{invite}.ics", None),
    ("POST", "/i/{invite}/accept", None),
    ("POST", "/i/{invite}/decline", None),
]
# The token is the capability: no key needed, and a staff key neither helps nor hurts.
# Earlier rows may rotate or revoke the token or answer the invitation, so these may
# answer 404 or 409 — never 401 or 403.
NEW_THERAPIST_ROUTES = {
    "/groups/{group}/sessions",
    "/groups/{group}/enrollments",
    "/sessions/{session}",
    "/sessions/{session}/roster",
    "/sessions/{session}/cancellations",
}
CAPABILITY_ROUTES = {path for _, path, _ in TABLE if path.startswith(("/feeds/", "/i/"))}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, dict[str, str]]]:
    if request.param == "sqlite":
        store = StoreSettings("sqlite", sqlite_path=tmp_path_factory.mktemp("r5") / "c.sqlite3")
        yield from _world(store)
    else:
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


def _url(s: StoreSettings) -> str:
    auth = s.pg_user + (f":{s.pg_password}" if s.pg_password else "")
    return f"postgresql://{auth}@{s.pg_host}:{s.pg_port}/{s.pg_dbname}"


def _world(store: StoreSettings) -> Iterator[tuple[Api, dict[str, str]]]:
    for api in make_api(store, Clock()):
        group = api.group()
        session = api.plan(group["id"])[0]
        enrollment = api.enroll(group["id"], "p-1")
        r = api.post(
            f"/sessions/{session['id']}/invitations",
            json={"patient_id": "p-1", "invitee_name": "Sam", "relationship": "spouse"},
        )
        invite = _sent_invitation(api, session["id"])
        feed = api.post("/patients/p-1/feed-tokens").get_json()
        ids = {
            "feed": feed["token"],
            "feed_token": feed["id"],
            "invite": invite,
            "group": group["id"],
            "session": session["id"],
            "enrollment": enrollment["id"],
            "invitation": r.get_json()["id"],
            "key": api.post(
                "/api-keys", json={"role": "billing", "name": "spare"}, role="admin"
            ).get_json()["id"],
        }
        yield api, ids


def _sent_invitation(api: Api, session_id: str) -> str:
    """A second invitation, sent: the invitee's token."""
    r = api.post(
        f"/sessions/{session_id}/invitations",
        json={"patient_id": "p-1", "invitee_name": "Kim", "relationship": "parent"},
    )
    iid = r.get_json()["id"]
    api.post(f"/invitations/{iid}/approve", role="therapist")
    consent = {"signed_by": "P", "signed_at": "2027-01-03T10:00:00+00:00", "document_ref": "d"}
    api.post(f"/invitations/{iid}/consent", json=consent)
    url: str = api.post(f"/invitations/{iid}/send").get_json()["url"]
    return url.rsplit("/", 1)[1]


def test_table_covers_every_documented_route(world: tuple[Api, dict[str, str]]) -> None:
    api, _ = world
    spec = api.get("/openapi.json", role=None).get_json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    in_table = {(m, _template(p)) for m, p, _ in TABLE}
    assert documented <= in_table


def _template(path: str) -> str:
    path = path.split("?")[0]
    for name, param in (
        ("{group}", "{group_id}"),
        ("{session}", "{session_id}"),
        ("{enrollment}", "{enrollment_id}"),
        ("{invitation}", "{invitation_id}"),
        ("{key}", "{key_id}"),
        ("t-ana", "{therapist_id}"),
        ("room-1", "{room_id}"),
        ("p-1", "{patient_id}"),
        ("{feed_token}", "{token_id}"),
        ("{feed}", "{token}"),
        ("{invite}", "{token}"),
    ):
        path = path.replace(name, param)
    return path


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "no-key")
@pytest.mark.parametrize(
    "method,path,allowed",
    TABLE,
    # Sets print in hash order, which differs between xdist workers: sort for stable ids.
    ids=lambda v: "+".join(sorted(v)) if isinstance(v, set) else str(v),
)
def test_only_the_roles_in_the_table_get_through(
    world: tuple[Api, dict[str, str]], method: str, path: str, allowed: Any, role: str | None
) -> None:
    api, ids = world
    url = path.format(**ids)
    kwargs: dict[str, Any] = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    status = api.call(method, url, role=role, **kwargs).status_code
    if path in CAPABILITY_ROUTES:
        assert status not in (401, 403, 500), (method, url, role, status)
    elif allowed is None:
        assert status == 200
    elif role is None:
        assert status == 401
    elif role in allowed:
        assert status not in (401, 403), (method, url, role, status)
    else:
        assert status == 403, (method, url, role, status)


# A therapist key reads these only for groups it facilitates: for any other group they
# answer as if the group or session did not exist.
VALID_BODIES = {
    "/sessions/{session}/cancellations": {"patient_id": "p-1", "told_at": "2027-01-04T09:00"},
    "/sessions/{session}/attendance": {"records": [{"patient_id": "p-1", "status": "present"}]},
}
THERAPIST_SCOPED = [
    (m, p) for m, p, allowed in TABLE if allowed is not None and T in allowed and "{" in p
]


@pytest.mark.parametrize("method,path", THERAPIST_SCOPED, ids=str)
def test_a_therapist_finds_nothing_of_groups_they_do_not_facilitate(
    world: tuple[Api, dict[str, str]], method: str, path: str
) -> None:
    api, ids = world
    url = path.format(**ids)
    kwargs: dict[str, Any] = {"json": VALID_BODIES.get(path, {})} if method != "GET" else {}
    theirs = api.call(method, url, role="other_therapist", **kwargs)
    mine = api.call(method, url, role="therapist", **kwargs).status_code
    assert mine not in (401, 403, 404), (method, url, mine)
    if path in NEW_THERAPIST_ROUTES:
        assert theirs.status_code == 404, (method, url, theirs.status_code)
    else:  # older routes: the `hardening` branch turns these 403s into 404s as well
        assert theirs.status_code in (403, 404), (method, url, theirs.status_code)
