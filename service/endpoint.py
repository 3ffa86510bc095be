"""The one decorator every route goes through: auth, parsing, idempotency, shaping.

A route handler receives a parsed ``Call`` and returns a ``Reply``; everything HTTP
(keys, JSON, headers, problem answers, OpenAPI metadata) is decided here, once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Protocol

from flask import Response, g, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import ClientDisconnected

from service.context import services
from service.errors import ApiError, flatten_messages
from service.keys_and_idempotency import InFlight, Mismatch, Replay, StaffKey, StoredReply

COORDINATOR = "coordinator"
THERAPIST = "therapist"
BILLING = "billing"
ADMIN = "admin"
STAFF = (COORDINATOR, THERAPIST, BILLING)

_IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d{1,12})"?\s*$')
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_BEARER = re.compile(r"^Bearer ([\x21-\x7e]{1,200})$")


@dataclass(frozen=True)
class EndpointSpec:
    summary: str
    tag: str
    roles: tuple[str, ...] | None
    body: Schema | tuple[Schema, ...] | None = None
    query: Schema | None = None
    response: Schema | None = None
    status: int = 200
    errors: frozenset[int] = frozenset()
    if_match: bool = False
    etag: bool = False
    description: str = ""
    content_type: str = "application/json"
    alternatives: tuple[str, ...] = ()  # other media types of the success response
    secret: tuple[str, ...] = ()  # response fields never stored for idempotent replays
    # Checks the path (a capability token) before the body is read: a caller without a
    # valid token never gets the server to wait for, or parse, a body.
    guard: Callable[..., Any] | None = None

    def statuses(self, method: str) -> list[int]:
        found = set(self.errors)
        if self.roles:
            found |= {401, 403}
        if self.body is not None:
            found |= {400, 408, 413, 415, 422}
        if self.query is not None:
            found.add(422)
        if self.if_match:
            found |= {400, 412}
        if method == "post" and self.roles:
            found |= {400, 409, 422}  # Idempotency-Key: malformed, in flight, reused
        return sorted(found)


class Staff(Protocol):
    """Who is acting: an API key's holder or a signed-in staff member (service.staff)."""

    @property
    def id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def therapist_id(self) -> str | None: ...
    @property
    def actor(self) -> str: ...


@dataclass
class Call:
    staff: Staff | None
    body: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    expected_version: int | None = None

    @property
    def actor(self) -> str:
        assert self.staff is not None
        return self.staff.actor

    @property
    def therapist_id(self) -> str | None:
        """Set for a therapist key: what that key may see is limited to their groups."""
        if self.staff is not None and self.staff.role == THERAPIST:
            return self.staff.therapist_id
        return None


@dataclass
class Reply:
    data: Any
    status: int | None = None
    etag: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # ``data`` is already the response schema's dump (a hand-written equivalent, tested as
    # equal to it): sent as it is.
    dumped: bool = False


def endpoint(
    *,
    summary: str,
    tag: str,
    roles: Iterable[str] | None,
    body: Schema | tuple[Schema, ...] | None = None,
    query: Schema | None = None,
    response: Schema | None = None,
    status: int = 200,
    errors: Iterable[int] = (),
    if_match: bool = False,
    etag: bool = False,
    description: str = "",
    content_type: str = "application/json",
    alternatives: tuple[str, ...] = (),
    secret: tuple[str, ...] = (),
    guard: Callable[..., Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    spec = EndpointSpec(
        summary=summary,
        tag=tag,
        roles=None if roles is None else tuple(roles),
        body=body,
        query=query,
        response=response,
        status=status,
        errors=frozenset(errors),
        if_match=if_match,
        etag=etag,
        description=description,
        content_type=content_type,
        alternatives=alternatives,
        secret=secret,
        guard=guard,
    )

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def handle(**path: Any) -> Any:
            staff = _authenticate(spec.roles)
            call = Call(staff=staff)
            if spec.query is not None:
                call.query = _load(spec.query, request.args.to_dict(flat=True), "query string")
            if spec.if_match:
                call.expected_version = _if_match()
            if spec.guard is not None:
                spec.guard(**path)
            idempotency_key = request.headers.get("Idempotency-Key")
            if request.method == "POST" and idempotency_key is not None and staff is not None:
                return _idempotently(staff, idempotency_key, spec, call, view, path)
            call.body = _body(spec.body)
            return _render(spec, view(call, **path))

        handle.__circles_endpoint__ = spec  # type: ignore[attr-defined]
        return handle

    return decorate


def spec_of(view: Callable[..., Any]) -> EndpointSpec | None:
    return getattr(view, "__circles_endpoint__", None)


def invoke(
    view: Callable[..., Any],
    staff: Staff,
    body: dict[str, Any] | None = None,
    query: dict[str, Any] | None = None,
    expected_version: int | None = None,
    **path: Any,
) -> Any:
    """Run a JSON route's handler for a page: the same role check, the same schemas, the
    same handler — so a page holds no rule the JSON API lacks. Returns the handler's reply
    (a ``Reply`` or plain data); refusals raise ``ApiError``/``DomainError`` as for JSON."""
    spec = spec_of(view)
    assert spec is not None, f"{view.__name__} is not an endpoint"
    _require_role(staff, spec.roles)
    call = Call(staff=staff, expected_version=expected_version)
    if spec.query is not None:
        call.query = _load(spec.query, query or {}, "form")
    if spec.body is not None:
        schema = spec.body if not isinstance(spec.body, tuple) else _choose(spec.body, body or {})
        call.body = _load(schema, body or {}, "form")
    return view.__wrapped__(call, **path)  # type: ignore[attr-defined]


# --- pieces -------------------------------------------------------------------------------------


def _authenticate(roles: tuple[str, ...] | None) -> StaffKey | None:
    if roles is None:
        return None
    header = request.headers.get("Authorization")
    if header is None:
        raise ApiError(401, "Send your staff API key as 'Authorization: Bearer <key>'.")
    match = _BEARER.match(header)
    staff = services().storage.authenticate(match.group(1)) if match else None
    if staff is None:
        raise ApiError(401, "The API key is not valid or has been revoked.")
    _require_role(staff, roles, "key")
    g.staff = staff
    return staff


def _require_role(staff: Staff, roles: tuple[str, ...] | None, what: str = "account") -> None:
    if roles is not None and staff.role not in roles:
        raise ApiError(
            403,
            f"A {staff.role} {what} cannot use this route; it is for {' or '.join(roles)} {what}s.",
        )


def _load(schema: Schema, data: Any, where: str) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as error:
        errors = flatten_messages(error.messages)
        listed = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in errors.items())
        raise ApiError(422, f"The {where} has invalid fields — {listed}", errors=errors) from None
    return loaded


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _body(schema: Schema | tuple[Schema, ...] | None) -> dict[str, Any]:
    if schema is None:
        return {}
    raw = _raw_body()
    if not raw.strip():
        data: Any = {}
    else:
        if not request.is_json:
            raise ApiError(415, "Send the body as JSON with 'Content-Type: application/json'.")
        try:
            data = json.loads(raw, parse_constant=_no_constants)
        except (ValueError, RecursionError) as error:
            raise ApiError(400, f"The body is not valid JSON: {error}"[:300]) from None
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object.")
    if isinstance(schema, tuple):
        return _load(_choose(schema, data), data, "body")
    return _load(schema, data, "body")


def _raw_body() -> bytes:
    """The body, at most ``MAX_CONTENT_LENGTH`` bytes (else 413, unread), arrived in time.

    Under gunicorn the worker (:mod:`service.gunicorn_worker`) has buffered it already, or
    ends the stream at the request's read deadline; a stream that ends before its
    announced length is a client that was too slow or went away.
    """
    try:
        return request.get_data(cache=True)
    except ClientDisconnected:
        raise ApiError(
            408, "The request body did not arrive in time; send it again, all at once."
        ) from None


def _choose(schemas: tuple[Schema, ...], data: dict[str, Any]) -> Schema:
    """Pick the alternative whose required fields the body mentions first (see its doc)."""
    for schema in schemas:
        marker = getattr(schema.Meta, "discriminator", None)
        if marker and marker in data:
            return schema
    return schemas[-1]


def _if_match() -> int | None:
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = _IF_MATCH.match(header)
    if match is None:
        raise ApiError(400, 'If-Match must be an ETag from a previous response, such as "3".')
    return int(match.group(1))


def _render(spec: EndpointSpec, reply: Any) -> Response:
    if isinstance(reply, Response):
        return reply
    if not isinstance(reply, Reply):
        reply = Reply(reply)
    data = reply.data
    if spec.response is not None and not reply.dumped:
        data = spec.response.dump(reply.data)
    response = Response(
        json.dumps(data, ensure_ascii=False) + "\n",
        status=reply.status or spec.status,
        mimetype="application/json",
    )
    if reply.etag is not None:
        response.headers["ETag"] = f'"{reply.etag}"'
    for name, value in reply.headers.items():
        response.headers[name] = value
    return response


def _idempotently(
    staff: StaffKey,
    key: str,
    spec: EndpointSpec,
    call: Call,
    view: Callable[..., Any],
    path: dict[str, Any],
) -> Response:
    """Run a POST once per (key holder, Idempotency-Key); replay its answer afterwards."""
    if not _IDEMPOTENCY_KEY.match(key):
        raise ApiError(400, "Idempotency-Key must be 1–255 visible ASCII characters.")
    fingerprint = hashlib.sha256(
        b"\0".join(
            [
                request.method.encode(),
                request.path.encode("utf-8", "surrogateescape"),
                request.query_string,
                _raw_body(),
            ]
        )
    ).hexdigest()
    storage = services().storage
    outcome = storage.claim(staff.id, key, fingerprint)
    if isinstance(outcome, Replay):
        response = Response(
            outcome.reply.body, status=outcome.reply.status, headers=outcome.reply.headers
        )
        response.headers["Idempotent-Replayed"] = "true"
        return response
    if isinstance(outcome, Mismatch):
        raise ApiError(
            422,
            "This Idempotency-Key was already used for a different request; "
            "use a new key for a new request.",
        )
    if isinstance(outcome, InFlight):
        raise ApiError(
            409, "A request with this Idempotency-Key is still being processed; retry shortly."
        )
    try:
        call.body = _body(spec.body)
        response = _render(spec, view(call, **path))
    except BaseException:
        storage.release(staff.id, key)
        raise
    if 200 <= response.status_code < 300:
        kept = {
            k: v for k, v in response.headers.items() if k in ("Content-Type", "ETag", "Location")
        }
        body = _without_secrets(response.get_data(as_text=True), spec.secret)
        storage.complete(staff.id, key, StoredReply(response.status_code, kept, body))
    else:
        storage.release(staff.id, key)
    return response


def _without_secrets(body: str, secret: tuple[str, ...]) -> str:
    """The reply to keep for replays, minus what must never be stored (keys, tokens, links
    holding tokens): those fields answer null on a replay, and ``secret_withheld`` says so."""
    if not secret:
        return body
    data = json.loads(body)
    for name in secret:
        if name in data:
            data[name] = None
    data["secret_withheld"] = True
    return json.dumps(data, ensure_ascii=False) + "\n"
