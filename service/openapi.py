"""OpenAPI 3 generated from the routes and their marshmallow schemas.

Every object shape is one component named after its schema class, nested shapes included
(as ``$ref``), so a client generator makes one model per shape under a name that says what
it is. Two classes of the same name are refused here rather than numbered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import make_schema_key, resolve_schema_instance
from flask import Flask
from marshmallow import Schema, fields
from werkzeug.routing import Rule

from service.endpoint import EndpointSpec, spec_of
from service.schemas.common import (
    ConflictProblem,
    NotFoundProblem,
    Problem,
    StaleVersionProblem,
    ValidationProblem,
)

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
_CLINIC_ID = (r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$", "The clinic's own identifier")
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
# The problem shape of each status whose answers carry more than the four RFC 9457 fields.
_PROBLEMS: dict[int, type[Problem]] = {
    404: NotFoundProblem,
    409: ConflictProblem,
    412: StaleVersionProblem,
    422: ValidationProblem,
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": 'The ETag you read (e.g. "3"); refused with 412 if it changed.',
    "schema": {"type": "string", "pattern": r'^(W/)?"?\d{1,12}"?$'},
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key returns the first response and changes nothing.",
    "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"},
}
_PROSE = ("description", "example", "default", "readOnly", "writeOnly", "deprecated")
_ETAG = {"ETag": {"description": "The aggregate's version", "schema": {"type": "string"}}}


def build_openapi(app: Flask) -> dict[str, Any]:
    spec = _new_spec(app)
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        meta = spec_of(app.view_functions[rule.endpoint])
        if meta is None:
            continue
        path = _PATH_PARAM.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(meta, method.lower(), rule)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _new_spec(app: Flask) -> APISpec:
    plugin = MarshmallowPlugin(schema_name_resolver=ComponentNames())
    spec = APISpec(
        title="Circles",
        version="1.0",
        openapi_version="3.0.3",
        plugins=[plugin],
        servers=[{"url": str(app.config.get("PUBLIC_URL") or "").rstrip("/") or "/"}],
        info={
            "description": "Scheduling for group interpersonal therapy. Staff routes take "
            "`Authorization: Bearer <key>`. Errors are application/problem+json (RFC 9457)."
        },
    )
    assert plugin.converter is not None
    plugin.converter.add_attribute_function(_enum_component)
    plugin.converter.add_attribute_function(_nullable_nested)
    # marshmallow's Url is a URI; "url" is not a format OpenAPI tools know.
    plugin.map_to_openapi_type(fields.Url, "string", "uri")
    spec.components.security_scheme("staffKey", {"type": "http", "scheme": "bearer"})
    return spec


class ComponentNames:
    """apispec's ``schema_name_resolver``: a schema's component is its class name, once
    (and an enum's, its enum class name).

    A nested schema gets a component too (never an inline object), and a name that two
    different shapes would share (two classes, or one class with ``only``/``exclude``) is an
    error to fix by naming one of them better, not a ``Group1`` for clients to puzzle over.
    """

    def __init__(self) -> None:
        self._shapes: dict[str, tuple[Any, ...]] = {}  # name -> (class, only, exclude, …)

    def __call__(self, schema: type[Schema] | Schema) -> str:
        shape = make_schema_key(resolve_schema_instance(schema))
        return self.claim(shape[0].__name__, shape)

    def claim(self, name: str, shape: Any) -> str:
        """Reserve ``name`` for ``shape`` (a schema key, or an enum class)."""
        if self._shapes.setdefault(name, shape) != shape:
            raise ValueError(f"two shapes would both be the component {name!r}")
        return name


def _enum_component(
    converter: Any, field: fields.Field, ret: dict[str, Any], **_: Any
) -> dict[str, Any]:
    """An Enum field refers to one component named after its enum (``ProblemArea``).

    Bound to the converter as apispec's own attribute functions are, and run after them: it
    rewrites the property they built in place, keeping its prose. A nullable one is "the enum
    or null" (``anyOf``), which OpenAPI 3.0 validators and client generators read alike.
    """
    if not isinstance(field, fields.Enum):
        return {}
    values = [m.value if field.by_value else m.name for m in field.enum]
    kind = "integer" if all(type(v) is int for v in values) else "string"
    name = field.enum.__name__
    converter.schema_name_resolver.claim(name, field.enum)
    if name not in converter.spec.components.schemas:
        converter.spec.components.schema(name, component={"type": kind, "enum": values})
    _refer(ret, {"$ref": f"#/components/schemas/{name}"}, kind, field.allow_none)
    return {}


def _nullable_nested(
    converter: Any, field: fields.Field, ret: dict[str, Any], **_: Any
) -> dict[str, Any]:
    """A nullable nested schema as "the component or null", not apispec's "any object"."""
    if isinstance(field, fields.Nested) and field.allow_none and "anyOf" in ret:
        ref = next(s for s in ret["anyOf"] if "$ref" in s)
        _refer(ret, ref, "object", nullable=True)
    return {}


def _refer(ret: dict[str, Any], ref: dict[str, str], kind: str, nullable: bool) -> None:
    prose = {k: v for k, v in ret.items() if k in _PROSE}
    ret.clear()
    if nullable:
        ret["anyOf"] = [ref, {"type": kind, "nullable": True, "enum": [None]}]
    elif prose:
        ret["allOf"] = [ref]  # a $ref's siblings are ignored in OpenAPI 3.0
    else:
        ret.update(ref)
    ret.update(prose)


# --- one operation ------------------------------------------------------------------------------


def _operation(meta: EndpointSpec, method: str, rule: Rule) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": rule.endpoint.replace(".", "_"),
        "summary": meta.summary,
        "tags": [meta.tag],
        "security": [{"staffKey": []}] if meta.roles else [],
        "parameters": _parameters(meta, method, rule.arguments),
        "responses": {str(meta.status): _success(meta), **_refusals(meta, method)},
    }
    description = meta.description
    if meta.roles:
        description = f"{description}\n\nRoles: {', '.join(meta.roles)}.".strip()
    if description:
        operation["description"] = description
    if meta.body is not None:
        operation["requestBody"] = _request_body(meta.body)
    return operation


def _parameters(meta: EndpointSpec, method: str, arguments: Iterable[str]) -> list[Any]:
    parameters: list[Any] = [_path_parameter(name) for name in sorted(arguments)]
    if meta.query is not None:
        parameters.append({"in": "query", "schema": type(meta.query)})
    if meta.if_match:
        parameters.append(_IF_MATCH)
    if method == "post" and meta.roles:
        parameters.append(_IDEMPOTENCY_KEY)
    return parameters


def _path_parameter(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if name in _ID_DOCS:
        schema["format"], text = _ID_DOCS[name]
    else:
        schema["pattern"], text = _PATTERNS.get(name, _CLINIC_ID)
    return {"name": name, "in": "path", "required": True, "description": text, "schema": schema}


def _request_body(body: Schema | tuple[Schema, ...]) -> dict[str, Any]:
    schema: Any = {"oneOf": [type(s) for s in body]} if isinstance(body, tuple) else type(body)
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _success(meta: EndpointSpec) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "OK" if meta.status == 200 else "Created"}
    if meta.response is not None:
        success["content"] = {meta.content_type: {"schema": type(meta.response)}}
        for media_type in meta.alternatives:
            success["content"][media_type] = {"schema": {"type": "string"}}
    elif meta.content_type != "application/json":
        success["content"] = {meta.content_type: {"schema": {"type": "string"}}}
    if meta.etag:
        success["headers"] = _ETAG
    return success


def _refusals(meta: EndpointSpec, method: str) -> dict[str, Any]:
    """Each error status of the route with its problem shape (304 has no body)."""
    answers: dict[str, Any] = {}
    for status in meta.statuses(method):
        answers[str(status)] = {"description": _DESCRIPTIONS[status]}
        if status != 304:
            schema = _PROBLEMS.get(status, Problem)
            answers[str(status)]["content"] = {"application/problem+json": {"schema": schema}}
    return answers
