"""Issue 11 (security and privacy at rest), findings 1, 4, 5, 6 and 9, on SQLite and PostgreSQL.

Finding 3 (slow clients) is in tests/e2e/test_slow_clients.py, finding 8 (If-Match on every
write) in tests/service/test_if_match.py.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from projections.store import ConfigurationError, StoreSettings
from service import create_app
from tests.conftest import Clock
from tests.service.conftest import Api, make_api, problem

CONSENT = {"signed_by": "Pat", "signed_at": "2027-01-03T10:00:00+00:00", "document_ref": "d-1"}


def _stored_bytes(api: Api, store: StoreSettings) -> bytes:
    """Everything at rest: the raw SQLite file with its WAL, or every idempotency row and
    key row of the PostgreSQL schema (where replies and keys are kept)."""
    if store.engine == "sqlite":
        assert store.sqlite_path is not None
        found = b""
        for suffix in ("", "-wal"):
            path = Path(f"{store.sqlite_path}{suffix}")
            if path.exists():
                found += path.read_bytes()
        return found
    import psycopg

    with psycopg.connect(store.pg_conninfo, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{store.pg_schema}"')
        rows = conn.execute(
            "SELECT coalesce(body, '') FROM circles_idempotency "
            "UNION ALL SELECT key_hash || prefix || name FROM circles_staff_keys"
        ).fetchall()
    return "".join(r[0] for r in rows).encode()


# --- 1. no secret stored in clear --------------------------------------------------------------


def test_a_replayed_key_creation_does_not_hold_the_key(
    api: Api, durable_store: StoreSettings
) -> None:
    headers = {"Idempotency-Key": "make-billing-key"}
    body = {"role": "billing", "name": "Front desk"}
    first = api.post("/api-keys", json=body, headers=headers, role="admin")
    assert first.status_code == 201, first.get_json()
    key = first.get_json()["key"]
    assert key.startswith("ck_")

    replay = api.post("/api-keys", json=body, headers=headers, role="admin")
    assert key.encode() not in _stored_bytes(api, durable_store)
    assert key not in replay.get_data(as_text=True)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    again = replay.get_json()
    assert again["key"] is None and again["secret_withheld"] is True
    assert first.get_json()["secret_withheld"] is False
    assert again["id"] == first.get_json()["id"]  # the same key, not a second one
    assert len(api.get("/api-keys", role="admin").get_json()["items"]) == len(api.keys) + 1

    # The key itself works: only a stored copy is missing.
    works = api.get("/reports/costs", headers={"Authorization": f"Bearer {key}"}, role=None)
    assert works.status_code == 200


def test_no_issued_token_is_stored_for_a_replay(api: Api, durable_store: StoreSettings) -> None:
    group = api.group()
    sid = api.plan(group["id"])[0]["id"]
    api.enroll(group["id"], "p-1")
    feed = api.post("/patients/p-1/feed-tokens", headers={"Idempotency-Key": "feed-1"})
    replay = api.post("/patients/p-1/feed-tokens", headers={"Idempotency-Key": "feed-1"})
    assert replay.get_json()["token"] is None and replay.get_json()["secret_withheld"] is True
    iid = api.post(
        f"/sessions/{sid}/invitations",
        json={"patient_id": "p-1", "invitee_name": "Sam", "relationship": "spouse"},
    ).get_json()["id"]
    api.post(f"/invitations/{iid}/approve", role="therapist")
    api.post(f"/invitations/{iid}/consent", json=CONSENT)
    sent = api.post(f"/invitations/{iid}/send", headers={"Idempotency-Key": "send-1"})
    replay = api.post(f"/invitations/{iid}/send", headers={"Idempotency-Key": "send-1"})
    assert replay.status_code == 200 and replay.get_json()["url"] is None
    assert replay.get_json()["secret_withheld"] is True
    stored = _stored_bytes(api, durable_store)
    assert feed.get_json()["token"].encode() not in stored
    assert sent.get_json()["url"].rsplit("/", 1)[1].encode() not in stored


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # what a shell usually has: files 0644, directories 0755
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_files_the_service_creates_are_private(tmp_path: Path, open_umask: None) -> None:
    data = tmp_path / "var" / "data"
    store = StoreSettings("sqlite", sqlite_path=data / "circles.sqlite3")
    for api in make_api(store, Clock()):
        api.group()  # writes events, views, the WAL
        assert _mode(tmp_path / "var") == 0o700 and _mode(data) == 0o700
        files = sorted(data.iterdir())
        assert {p.name for p in files} >= {"circles.sqlite3", "circles.sqlite3-wal"}
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
        export = tmp_path / "export.jsonl"
        result = api.app.test_cli_runner().invoke(args=["export-events", str(export)])
        assert result.exit_code == 0, result.output
        assert _mode(export) == 0o600


def test_an_existing_database_file_is_made_private(tmp_path: Path, open_umask: None) -> None:
    os.chmod(tmp_path, 0o755)
    path = tmp_path / "circles.sqlite3"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    for _ in make_api(StoreSettings("sqlite", sqlite_path=path), Clock()):
        assert _mode(path) == 0o600
        assert _mode(tmp_path) == 0o755  # a directory the operator made is left as it is


# --- 4. links come from PUBLIC_URL, never from the request's Host ------------------------------


def _app(store: StoreSettings, **config: Any) -> Iterator[Api]:
    app = create_app({"STORE": store, "CLOCK": Clock(), "TESTING": True, **config})
    api = Api(app=app, client=app.test_client(), clock=Clock())
    api.keys["coordinator"], _ = app.extensions["circles"].storage.create_key("coordinator", "c")
    api.enroll(api.group()["id"], "p-1")  # a feed token is only for a patient ever enrolled
    try:
        yield api
    finally:
        app.extensions["circles"].close()


@pytest.fixture
def no_link_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    monkeypatch.delenv("TRUSTED_HOSTS", raising=False)


def test_a_host_outside_the_trusted_ones_gets_400_and_no_link(
    durable_store: StoreSettings, no_link_env: None
) -> None:
    for api in _app(durable_store):
        evil = {"Host": "evil.example"}
        body = problem(api.post("/patients/p-1/feed-tokens", headers=evil), 400)
        assert "evil.example" not in str(body)
        problem(api.get("/healthz", headers=evil, role=None), 400)
        # The demo's and the tests' hosts are trusted, and links name them.
        for host in ("localhost", "127.0.0.1:8000"):
            r = api.post("/patients/p-1/feed-tokens", headers={"Host": host})
            assert r.status_code == 201 and r.get_json()["url"].startswith(f"http://{host}/")


def test_links_come_from_public_url_whatever_the_host(
    durable_store: StoreSettings, no_link_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLIC_URL", "https://circles.clinic.example/")  # as the Procfile sees it
    for api in _app(durable_store):
        r = api.post("/patients/p-1/feed-tokens", headers={"Host": "evil.example"})
        assert r.status_code == 201
        data = r.get_json()
        assert data["url"].startswith("https://circles.clinic.example/feeds/")
        assert data["webcal_url"].startswith("webcal://circles.clinic.example/feeds/")
        assert "evil" not in str(data)


def test_trusted_hosts_from_the_environment(
    durable_store: StoreSettings, no_link_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUSTED_HOSTS", "circles.clinic.example, localhost")
    for api in _app(durable_store):
        r = api.post("/patients/p-1/feed-tokens", headers={"Host": "circles.clinic.example"})
        assert r.get_json()["url"].startswith("https://circles.clinic.example/feeds/")
        problem(api.post("/patients/p-1/feed-tokens", headers={"Host": "evil.example"}), 400)


@pytest.mark.parametrize("bad", ["circles.example", "ftp://x.example", "https://x.example/?a=1"])
def test_a_malformed_public_url_stops_the_start(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="PUBLIC_URL"):
        create_app({"STORE": StoreSettings("memory"), "PUBLIC_URL": bad})


# --- 5. feed tokens and invitation tokens are separate kinds -----------------------------------


def _sent_invitation_token(api: Api) -> str:
    group = api.group()
    sid = api.plan(group["id"])[0]["id"]
    api.enroll(group["id"], "p-1")
    iid = api.post(
        f"/sessions/{sid}/invitations",
        json={"patient_id": "p-1", "invitee_name": "Sam", "relationship": "spouse"},
    ).get_json()["id"]
    api.post(f"/invitations/{iid}/approve", role="therapist")
    api.post(f"/invitations/{iid}/consent", json=CONSENT)
    url: str = api.post(f"/invitations/{iid}/send").get_json()["url"]
    return url.rsplit("/", 1)[1]


def test_each_token_works_only_on_its_own_route(api: Api) -> None:
    invite = _sent_invitation_token(api)
    feed = api.post("/patients/p-1/feed-tokens").get_json()["token"]
    # Each route answers its own kind, and its body is then cached ...
    assert api.get(f"/feeds/{feed}.ics", role=None).status_code == 200
    assert api.get(f"/i/{invite}.ics", role=None).status_code == 200
    # ... which is never an answer on the other route.
    unknown = api.get("/feeds/" + "x" * 43 + ".ics", role=None)
    for path in (f"/i/{feed}.ics", f"/i/{feed}", f"/feeds/{invite}.ics"):
        r = problem(api.get(path, role=None), 404)
        assert r == unknown.get_json()
    problem(api.post(f"/i/{feed}/accept", role=None), 404)
    assert api.get(f"/i/{invite}", role=None).get_json()["status"] == "sent"


def test_a_capability_token_is_checked_before_the_body_is_read(api: Api) -> None:
    unknown = "/i/" + "x" * 43 + "/accept"
    for body, ctype in ((b"{not json", "application/json"), (b"<x/>", "text/xml")):
        r = api.post(unknown, data=body, headers={"Content-Type": ctype}, role=None)
        problem(r, 404)


# --- 6. out of scope is not found --------------------------------------------------------------


def test_out_of_scope_is_answered_as_not_found_naming_nothing(api: Api) -> None:
    name = "Grief circle for widowers"
    theirs = api.group(name=name, facilitator_ids=["t-zed"], room_id="room-9")
    gid = theirs["id"]
    sid = api.plan(gid)[0]["id"]
    api.enroll(gid, "p-1")
    iid = api.post(
        f"/sessions/{sid}/invitations",
        json={"patient_id": "p-1", "invitee_name": "Sam", "relationship": "spouse"},
    ).get_json()["id"]
    missing = "00000000-0000-4000-8000-000000000000"
    records = {"records": [{"patient_id": "p-1", "status": "present"}]}
    # What t-ana asks about t-zed's group, and the id it names (also asked as a missing one).
    asked = [
        ("GET", "/groups/{id}", None, gid),
        ("GET", "/groups/{id}/calendar.ics", None, gid),
        ("GET", "/reports/attendance?group_id={id}", None, gid),
        ("GET", "/sessions/{id}", None, sid),
        ("GET", "/sessions/{id}/roster", None, sid),
        ("PUT", "/sessions/{id}/attendance", records, sid),
        (
            "POST",
            "/sessions/{id}/cancellations",
            {"patient_id": "p-1", "told_at": "2027-01-04T08:00"},
            sid,
        ),
        ("POST", "/invitations/{id}/approve", {}, iid),
    ]
    for method, path, body, ident in asked:
        hidden = problem(api.call(method, path.format(id=ident), role="therapist", json=body), 404)
        absent = problem(
            api.call(method, path.format(id=missing), role="therapist", json=body), 404
        )
        assert hidden == {**absent, "detail": absent["detail"].replace(missing, ident)}, path
        assert name not in str(hidden) and "t-zed" not in str(hidden)
    hidden = problem(api.get("/therapists/t-zed/sessions", role="therapist"), 404)
    assert hidden == problem(api.get("/therapists/t-nobody/sessions", role="therapist"), 404) | {
        "detail": hidden["detail"]
    }
    # The facilitator and the coordinator still see it all.
    assert api.get(f"/groups/{gid}", role="other_therapist").status_code == 200
    assert api.get(f"/groups/{gid}").status_code == 200


# --- 9. headers on every response ----------------------------------------------------------------


def test_every_response_carries_the_safety_headers(api: Api) -> None:
    group = api.group()
    enrollment = api.enroll(group["id"], "p-1", patient_name="Robin Private")
    feed = api.post("/patients/p-1/feed-tokens").get_json()
    answers = {
        "json": api.get(f"/enrollments/{enrollment['id']}"),
        "list": api.get(f"/groups/{group['id']}/enrollments"),
        "problem": api.get("/groups/00000000-0000-4000-8000-000000000000"),
        "unauthorized": api.get("/groups", role=None),
        "no route": api.get("/nowhere", role=None),
        "write": api.post(
            f"/enrollments/{enrollment['id']}/intake", json={"primary_area": "grief"}
        ),
        "feed": api.get(f"/feeds/{feed['token']}.ics", role=None),
        "docs": api.get("/docs", role=None),
        "health": api.get("/healthz", role=None),
        "openapi": api.get("/openapi.json", role=None),
    }
    for what, r in answers.items():
        assert r.headers["X-Content-Type-Options"] == "nosniff", what
        assert r.headers["Referrer-Policy"] == "no-referrer", what
    assert "Robin Private" in answers["json"].get_data(as_text=True)
    for what in ("json", "list", "problem", "unauthorized", "write"):
        assert answers[what].headers["Cache-Control"] == "no-store", what
    feed_answer = answers["feed"]
    assert feed_answer.headers["Cache-Control"].startswith("private")
    assert feed_answer.headers["ETag"]
    docs = answers["docs"]
    policy = {
        d.split()[0]: d.split()[1:] for d in docs.headers["Content-Security-Policy"].split("; ")
    }
    assert policy["frame-ancestors"] == ["'none'"] and policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert docs.headers["X-Frame-Options"] == "DENY"
    # Every script of the page is a file from this origin (no inline script to allow).
    page = docs.get_data(as_text=True)
    assert page.count("<script") == page.count('<script src="/')
    for src in [p.split('"')[0] for p in page.split('<script src="')[1:]]:
        assert api.get(src, role=None).status_code == 200, src
