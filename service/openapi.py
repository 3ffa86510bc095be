"""OpenAPI 3 generated from the routes and their marshmallow schemas."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema

from service.endpoint import EndpointSpec, spec_of
from service.schemas.common import Problem

_PATH_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")
_ID_DOCS = {
    "group_id": ("uuid", "A group id"),
    "session_id": ("uuid", "A session id"),
    "enrollment_id": ("uuid", "An enrollment id"),
    "invitation_id": ("uuid", "An invitation id"),
    "key_id": ("uuid", "A staff key id"),
    "token_id": ("uuid", "A feed token's id (not the token)"),
}
# Capability tokens: 256 random bits as 43 url-safe base64 characters.
_PATTERNS = {"token": (r"^[A-Za-z0-9_-]{43}$", "A private feed or invitation token")}
_DESCRIPTIONS = {
    304: "Not modified since the ETag sent in If-None-Match (or the If-Modified-Since date)",
    400: "Malformed request (JSON, headers)",
    401: "No API key, or not a valid one",
    403: "This key's role may not do this",
    404: "Not found (or outside this key's scope: answered alike)",
    408: "The body did not arrive in time",
    409: "Conflict with the current state (capacity, overlap, wrong state)",
    412: "If-Match does not match the current version",
    413: "Body too large",
    415: "Body is not JSON",
    422: "A field is invalid",
}


def _name(schema: Schema) -> str:
    return type(schema).__name__


def _inline(schema: type[Schema]) -> str:
    """Nested schemas are written inline; top-level ones are registered by name below."""
    return None  # type: ignore[return-value]


def build_openapi(app: Flask) -> dict[str, Any]:
    spec = APISpec(
        title="Circles",
        version="1.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin(schema_name_resolver=_inline)],
        info={
            "description": "Scheduling for group interpersonal therapy. Staff routes take "
            "`Authorization: Bearer <key>`. Errors are application/problem+json (RFC 9457)."
        },
    )
    spec.components.security_scheme("staffKey", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", schema=Problem)
    registered: set[str] = {"Problem"}

    def ref(schema: Schema) -> dict[str, str]:
        name = _name(schema)
        if name not in registered:
            spec.components.schema(name, schema=type(schema))
            registered.add(name)
        return {"$ref": f"#/components/schemas/{name}"}

    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        meta = spec_of(app.view_functions[rule.endpoint])
        if meta is None:
            continue
        path = _PATH_PARAM.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = _operation(meta, method.lower(), rule.endpoint, rule.arguments, ref)
            paths.setdefault(path, {})[method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation(
    meta: EndpointSpec, method: str, endpoint: str, arguments: Any, ref: Any
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.replace(".", "_"),
        "summary": meta.summary,
        "tags": [meta.tag],
        "parameters": [],
        "responses": {},
    }
    description = meta.description
    if meta.roles:
        roles = ", ".join(meta.roles)
        description = f"{description}\n\nRoles: {roles}.".strip()
        operation["security"] = [{"staffKey": []}]
    else:
        operation["security"] = []
    if description:
        operation["description"] = description
    for name in sorted(arguments):
        fmt, text = _ID_DOCS.get(name, (None, "The clinic's own identifier"))
        pattern, text = _PATTERNS.get(name, (r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$", text))
        schema: dict[str, Any] = {"type": "string"}
        if fmt:
            schema["format"] = fmt
        else:
            schema["pattern"] = pattern
        operation["parameters"].append(
            {"name": name, "in": "path", "required": True, "description": text, "schema": schema}
        )
    if meta.query is not None:
        operation["parameters"].append({"in": "query", "schema": type(meta.query)})
    if meta.if_match:
        operation["parameters"].append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "description": 'The ETag you read (e.g. "3"); refused with 412 if it changed.',
                "schema": {"type": "string", "pattern": r'^(W/)?"?\d{1,12}"?$'},
            }
        )
    if method == "post" and meta.roles:
        operation["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "A retry with the same key returns the first response and "
                "changes nothing.",
                "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"},
            }
        )
    if meta.body is not None:
        if isinstance(meta.body, tuple):
            body_schema: dict[str, Any] = {"oneOf": [ref(s) for s in meta.body]}
        else:
            body_schema = ref(meta.body)
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body_schema}},
        }
    success: dict[str, Any] = {"description": "OK" if meta.status == 200 else "Created"}
    if meta.response is not None:
        success["content"] = {meta.content_type: {"schema": ref(meta.response)}}
        for media_type in meta.alternatives:
            success["content"][media_type] = {"schema": {"type": "string"}}
    elif meta.content_type != "application/json":
        success["content"] = {meta.content_type: {"schema": {"type": "string"}}}
    if meta.etag:
        success["headers"] = {
            "ETag": {"description": "The aggregate's version", "schema": {"type": "string"}}
        }
    operation["responses"][str(meta.status)] = success
    for status in meta.statuses(method):
        if status == 304:
            operation["responses"]["304"] = {"description": _DESCRIPTIONS[304]}
            continue
        operation["responses"][str(status)] = {
            "description": _DESCRIPTIONS[status],
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
    return operation
