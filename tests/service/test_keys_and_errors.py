"""Staff keys (CLI and admin API), problem+json for every malformed input, OpenAPI, /docs."""

from __future__ import annotations

import pytest

from service.keys_and_idempotency import hash_key
from service.web import is_page
from tests.service.conftest import Api, group_body, problem


def test_cli_prints_only_the_key_and_it_works(api: Api) -> None:
    result = api.app.test_cli_runner().invoke(
        args=["create-api-key", "--role", "therapist", "--name", "Ana", "--therapist-id", "t-ana"]
    )
    assert result.exit_code == 0
    key = result.output.strip()
    assert result.output == key + "\n" and key.startswith("ck_")
    r = api.get("/groups", role=None, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200
    bad = api.app.test_cli_runner().invoke(
        args=["create-api-key", "--role", "therapist", "--name", "No id"]
    )
    assert bad.exit_code != 0


def test_keys_are_stored_hashed(api: Api) -> None:
    storage = api.app.extensions["circles"].storage
    plain, key = storage.create_key("billing", "B")
    with storage._db.connect() as conn:
        stored = conn.execute(
            "SELECT key_hash FROM circles_staff_keys WHERE id = ?", (key.id,)
        ).fetchone()[0]
    assert stored == hash_key(plain) and plain not in stored


def test_admin_lists_creates_and_revokes_keys(api: Api) -> None:
    r = api.post("/api-keys", json={"role": "billing", "name": "New billing"}, role="admin")
    assert r.status_code == 201
    created = r.get_json()
    new_key = created["key"]
    assert (
        api.get("/groups", role=None, headers={"Authorization": f"Bearer {new_key}"}).status_code
        == 200
    )
    page = api.get("/api-keys?limit=3", role="admin").get_json()
    assert len(page["items"]) == 3 and page["next_cursor"] and "key" not in page["items"][0]
    rest = api.get(f"/api-keys?cursor={page['next_cursor']}", role="admin").get_json()
    assert len(page["items"]) + len(rest["items"]) == 6
    r = api.delete(f"/api-keys/{created['id']}", role="admin")
    assert r.status_code == 200 and r.get_json()["revoked_at"]
    problem(api.get("/groups", role=None, headers={"Authorization": f"Bearer {new_key}"}), 401)
    problem(api.delete("/api-keys/00000000-0000-4000-8000-000000000000", role="admin"), 404)
    problem(api.post("/api-keys", json={"role": "therapist", "name": "x"}, role="admin"), 422)
    problem(api.post("/api-keys", json={"role": "root", "name": "x"}, role="admin"), 422)
    problem(api.get("/api-keys", role="coordinator"), 403)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer ck_wrong"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer " + "x" * 500},
    ],
)
def test_no_or_bad_key_is_401(api: Api, headers: dict[str, str]) -> None:
    body = problem(api.get("/groups", role=None, headers=headers), 401)
    assert "key" in body["detail"]


def test_malformed_inputs_are_4xx_problems(api: Api) -> None:
    json_header = {"Content-Type": "application/json"}
    problem(api.post("/groups", data="{not json", headers=json_header), 400)
    problem(api.post("/groups", data="[1, 2]", headers=json_header), 400)
    problem(api.post("/groups", data='{"a": NaN}', headers=json_header), 400)
    problem(api.post("/groups", data="[" * 100_000, headers=json_header), 413)
    problem(api.post("/groups", data="[" * 20_000, headers=json_header), 400)
    problem(api.post("/groups", data="name=x", headers={"Content-Type": "text/plain"}), 415)
    problem(api.post("/groups", data=b"\xff\xfe", headers=json_header), 400)
    problem(api.post("/groups", json=group_body(name="a\x00b")), 422)
    problem(api.post("/groups", json=group_body(name="\ud800")), 422)
    problem(api.post("/groups", json=group_body(max_size="8")), 422)
    problem(api.post("/groups", json=group_body(max_size=10**40)), 422)
    problem(api.post("/groups", json=group_body(timezone="../../etc/passwd")), 422)
    problem(api.post("/groups", json=group_body(fees="free")), 422)
    problem(api.get("/nowhere"), 404)
    r = api.delete("/groups")
    problem(r, 405)
    assert "GET" in r.headers["Allow"]


def test_openapi_describes_every_route_and_docs_work_offline(api: Api) -> None:
    spec = api.get("/openapi.json", role=None).get_json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    routed = {
        (m, rule.rule.replace("<", "{").replace(">", "}"))
        for rule in api.app.url_map.iter_rules()
        for m in rule.methods or ()
        if m not in ("HEAD", "OPTIONS")
        and not rule.rule.startswith(("/docs", "/static"))
        and rule.rule != "/openapi.json"
        and not is_page(rule.rule)  # the pages (service.web) are HTML, not the API
        # The private links' pages (service.web.invitee, .patient_link): HTML too.
        and not rule.endpoint.startswith(("web_invitee.", "web_patient_link."))
    }
    assert routed == documented
    create = spec["paths"]["/groups"]["post"]
    assert {"201", "400", "401", "403", "422"} <= set(create["responses"])
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    docs = api.get("/docs", role=None)
    assert docs.status_code == 200 and b"http" not in docs.data.replace(b"http-equiv", b"")
    assert api.get("/docs/static/swagger-ui-bundle.js", role=None).status_code == 200
    assert api.get("/healthz", role=None).get_json() == {"status": "ok"}
