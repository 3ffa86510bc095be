"""The OpenAPI document is one client generators can use as it is (issue 12 item 7).

It validates as OpenAPI 3.0; every object shape is one named component (no inline objects,
no two components of the same shape); nullable enums carry their type; and real answers of
the test client — successes and problem+json refusals — validate against it with every
object closed, so a field a response carries but the document does not list fails here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
from marshmallow import Schema, fields
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_spec_validator import validate
from werkzeug.test import TestResponse

from service.openapi import ComponentNames, build_openapi
from tests.service.conftest import Api, group_body, plan_body

MISSING = "00000000-0000-4000-8000-000000000000"
# Formats OpenAPI 3.0 and JSON Schema define (generators map these; "url" is not one).
KNOWN_FORMATS = {"uuid", "date", "date-time", "uri", "email", "int32", "int64", "float", "double"}


@pytest.fixture
def document(api: Api) -> dict[str, Any]:
    doc: dict[str, Any] = api.get("/openapi.json", role=None).get_json()
    return doc


def schemas_in(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON-schema-looking dict in the document, with its JSON pointer."""
    if isinstance(node, dict):
        if "type" in node or "properties" in node or "enum" in node or "$ref" in node:
            yield where, node
        for key, value in node.items():
            yield from schemas_in(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from schemas_in(value, f"{where}/{i}")


def without_docs(node: Any) -> Any:
    """A schema less its prose: what a generated model's fields and checks are made of."""
    if isinstance(node, dict):
        return {
            k: without_docs(v)
            for k, v in node.items()
            if k not in ("description", "example", "title") or not isinstance(v, str)
        }
    if isinstance(node, list):
        return [without_docs(v) for v in node]
    return node


def test_the_document_is_valid_openapi_with_a_server(api: Api, document: dict[str, Any]) -> None:
    validate(document)
    assert document["servers"] == [{"url": "/"}]
    api.app.config["PUBLIC_URL"] = "https://circles.example.org/"
    assert build_openapi(api.app)["servers"] == [{"url": "https://circles.example.org"}]


def test_every_object_shape_is_one_named_component(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    inline = [
        where
        for where, schema in schemas_in(document)
        if "properties" in schema and where.count("/") != 3  # only #/components/schemas/X
    ]
    assert inline == [], "objects not written as a component $ref"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
            for body in bodies:
                for media_type, content in body.get("content", {}).items():
                    if media_type.endswith("json"):
                        schema = content["schema"]
                        refs = [schema] if "$ref" in schema else schema.get("oneOf", [])
                        assert refs and all("$ref" in s for s in refs), (method, path)
    shapes: dict[str, str] = {}
    for name, schema in components.items():
        shape = json.dumps(without_docs(schema), sort_keys=True)
        assert shape not in shapes, f"{name} has the shape of {shapes.get(shape)}"
        shapes[shape] = name
    for name in ("Group", "CostReportGroup", "Session", "CalendarSession", "InviteeSession"):
        assert name in components
    cost_report = components["CostReport"]["properties"]
    assert cost_report["groups"]["items"] == {"$ref": "#/components/schemas/CostReportGroup"}


def test_enums_nullables_and_formats_say_their_type(document: dict[str, Any]) -> None:
    inline_enums: dict[str, str] = {}
    for where, schema in schemas_in(document):
        if "enum" in schema or schema.get("nullable"):
            assert "type" in schema, where
        if "format" in schema:
            assert schema["format"] in KNOWN_FORMATS, where
        if "enum" in schema and schema["enum"] != [None] and where.count("/") != 3:
            values = json.dumps(sorted(map(str, schema["enum"])))
            assert values not in inline_enums, f"{where} repeats {inline_enums.get(values)}"
            inline_enums[values] = where
    schemas = document["components"]["schemas"]
    assert schemas["ProblemArea"]["type"] == "string" and "grief" in schemas["ProblemArea"]["enum"]
    group_create = schemas["GroupCreate"]["properties"]
    assert group_create["video_url"]["format"] == "uri"
    area = {"$ref": "#/components/schemas/ProblemArea"}
    null = {"type": "string", "nullable": True, "enum": [None]}
    assert group_create["focus_area"] == {"anyOf": [area, null]}
    assert schemas["IntakeIn"]["properties"]["primary_area"] == area


def test_a_name_two_shapes_would_share_is_refused() -> None:
    names = ComponentNames()
    first = type("Slot", (Schema,), {"at": fields.String()})
    second = type("Slot", (Schema,), {"room": fields.String()})
    assert names(first) == "Slot" and names(first()) == "Slot"
    with pytest.raises(ValueError, match="Slot"):
        names(second)
    with pytest.raises(ValueError, match="Slot"):
        names(first(only=("at",)))
    with pytest.raises(ValueError, match="Slot"):
        names.claim("Slot", Enum("Slot", "A B"))


# --- real answers validate against the document ----------------------------------------------


def closed(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every component object refusing properties it does not declare."""
    strict = copy.deepcopy(document)
    for schema in strict["components"]["schemas"].values():
        if "properties" in schema:
            schema.setdefault("additionalProperties", False)
    return strict


class AnsweredRequest(WerkzeugOpenAPIRequest):
    """The request a response answered; its body was read by the app and is not needed."""

    @property
    def body(self) -> bytes | None:
        return None


class Checked:
    """Asserts each answer's status and validates it against the closed document."""

    def __init__(self, api: Api, document: dict[str, Any]) -> None:
        self.api = api
        self.openapi = OpenAPI.from_dict(
            closed(document),
            config=Config(extra_media_type_deserializers={"application/problem+json": json.loads}),
        )
        self.seen: set[tuple[str, int]] = set()

    def __call__(self, response: TestResponse, status: int) -> Any:
        assert response.status_code == status, response.get_data(as_text=True)
        self.openapi.validate_response(
            AnsweredRequest(response.request), WerkzeugOpenAPIResponse(response)
        )
        self.seen.add((response.request.method, status))
        return response.get_json()


def test_real_answers_and_refusals_match_the_document(api: Api, document: dict[str, Any]) -> None:
    check = Checked(api, document)
    group = check(api.post("/groups", json=group_body(guest_limit=1)), 201)
    gid = group["id"]
    check(api.get("/groups"), 200)
    check(api.get(f"/groups/{gid}", role="therapist"), 200)
    check(api.patch(f"/groups/{gid}", json={"name": "Renamed"}), 200)
    stale = check(api.patch(f"/groups/{gid}", json={"name": "X"}, headers={"If-Match": '"1"'}), 412)
    assert stale["current_version"] >= 2
    invalid = check(api.post("/groups", json=group_body(currency="usd")), 422)
    assert "currency" in invalid["errors"]
    check(api.post("/groups", data="{", content_type="application/json"), 400)
    check(api.post("/groups", data="x", content_type="text/plain"), 415)
    check(api.get("/groups", role=None), 401)
    check(api.post("/groups", json=group_body(), role="billing"), 403)
    check(api.get(f"/groups/{MISSING}"), 404)

    sessions = check(api.post(f"/groups/{gid}/sessions", json=plan_body()), 201)["sessions"]
    first, second = sessions[0]["id"], sessions[1]["id"]
    check(api.get(f"/groups/{gid}/sessions"), 200)
    other = api.group(name="Other group", facilitator_ids=["t-bob"])  # same room
    overlap = check(api.post(f"/groups/{other['id']}/sessions", json=plan_body()), 409)
    assert overlap["colliding_session_id"] == first and overlap["resource"] == "room:room-1"

    check(api.post(f"/groups/{gid}/open"), 200)
    enrollment = check(
        api.post(f"/groups/{gid}/enrollments", json={"patient_id": "p-1", "patient_name": "Pat"}),
        201,
    )
    again = check(
        api.post(f"/groups/{gid}/enrollments", json={"patient_id": "p-1", "patient_name": "Pat"}),
        409,
    )
    assert again["enrollment_id"] == enrollment["id"]
    leaving = api.enroll(gid, "p-2")
    intake = {"primary_area": "grief", "inventory_done": True}
    check(api.post(f"/enrollments/{enrollment['id']}/intake", json=intake), 200)
    check(api.get(f"/enrollments/{enrollment['id']}"), 200)
    check(api.post(f"/enrollments/{leaving['id']}/withdraw", json={"reason": "moved"}), 200)
    check(api.get(f"/groups/{gid}/enrollments"), 200)
    check(api.get(f"/groups/{gid}/history"), 200)

    propose = {"patient_id": "p-1", "invitee_name": "Sam", "relationship": "spouse"}
    invitation = check(api.post(f"/sessions/{first}/invitations", json=propose), 201)
    iid = invitation["id"]
    check(api.post(f"/invitations/{iid}/approve", role="therapist"), 200)
    consent = {"signed_by": "Pat", "signed_at": "2027-01-03T10:00:00+00:00", "document_ref": "d"}
    check(api.post(f"/invitations/{iid}/consent", json=consent), 200)
    link = check(api.post(f"/invitations/{iid}/send"), 200)["url"]
    invitee = link[link.index("/i/") :]
    check(api.get(invitee, role=None), 200)
    check(api.post(f"{invitee}/accept", role=None), 200)
    check(api.get("/i/" + "x" * 43, role=None), 404)
    check(api.get(f"/invitations/{iid}"), 200)

    api.clock.set(datetime(2027, 3, 3, 12, 0, tzinfo=UTC))
    records = {"records": [{"patient_id": "p-1", "status": "present"}]}
    check(api.put(f"/sessions/{first}/attendance", json=records), 200)
    told = {"patient_id": "p-1", "told_at": "2027-03-03T06:00"}
    check(api.post(f"/sessions/{second}/cancellations", json=told), 201)
    check(api.get(f"/sessions/{second}"), 200)
    check(api.get(f"/sessions/{first}/roster", role="therapist"), 200)
    moved = {"starts_at": "2027-03-17T18:00", "reason": "Room repainted"}
    check(api.post(f"/sessions/{sessions[2]['id']}/reschedule", json=moved), 200)

    check(api.get("/therapists/t-ana/sessions"), 200)
    check(api.get(f"/reports/attendance?group_id={gid}"), 200)
    check(api.get("/patients/p-1/attendance"), 200)
    check(api.get("/reports/costs", role="billing"), 200)
    check(api.get("/patients/p-1/statement", role="billing"), 200)
    check(api.get("/reports/costs?from=2027-03-09&to=2027-03-01", role="billing"), 422)

    token = check(api.post("/patients/p-1/feed-tokens"), 201)
    check(api.delete(f"/feed-tokens/{token['id']}"), 200)
    unknown = check(api.post("/patients/p-404/feed-tokens"), 404)
    assert unknown["reason"] == "never-enrolled" and unknown["patient_id"] == "p-404"
    check(api.get("/api-keys", role="admin"), 200)
    desk = check(api.post("/api-keys", json={"role": "billing", "name": "Desk"}, role="admin"), 201)
    check(api.delete(f"/api-keys/{desk['id']}", role="admin"), 200)
    check(api.get("/healthz", role=None), 200)
    check(api.get("/healthz/projections", role=None), 200)
    assert {s for _, s in check.seen} >= {200, 201, 400, 401, 403, 404, 409, 412, 415, 422}
