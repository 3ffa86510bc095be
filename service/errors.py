"""One place that turns every failure into an RFC 9457 ``application/problem+json`` answer.

Domain errors keep their message as the ``detail`` (it is written for a coordinator);
validation failures list each bad field under ``errors``. Anything unexpected is logged
and answered as a 500 without internals, but the contract is that no input reaches it.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, SecurityError

from domain.errors import (
    AdmissionClosedError,
    CapacityError,
    ConflictError,
    CourseLengthError,
    DomainError,
    DuplicateError,
    InvalidInputError,
    NotFoundError,
    NotPermittedError,
    OverlapError,
    StaleVersionError,
    WrongStateError,
)

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)

# Most specific first: the first matching class decides status, slug and title.
_DOMAIN: list[tuple[type[DomainError], int, str, str]] = [
    (InvalidInputError, 422, "invalid-field", "A field is invalid"),
    (NotFoundError, 404, "not-found", "Not found"),
    (OverlapError, 409, "overlap", "Double booking"),
    (CapacityError, 409, "capacity", "Over capacity"),
    (AdmissionClosedError, 409, "admission-closed", "Closed to newcomers"),
    (DuplicateError, 409, "duplicate", "Already exists"),
    (CourseLengthError, 409, "course-length", "Course length rule"),
    (WrongStateError, 409, "wrong-state", "Not possible in the current state"),
    (ConflictError, 409, "conflict", "Conflict"),
    (NotPermittedError, 403, "forbidden", "Not permitted"),
    (StaleVersionError, 412, "stale-version", "Changed since you read it"),
]

_TITLES = {
    400: ("malformed", "Malformed request"),
    401: ("unauthorized", "Missing or invalid API key"),
    403: ("forbidden", "Not permitted"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    408: ("request-timeout", "Request body too slow"),
    409: ("conflict", "Conflict"),
    412: ("stale-version", "Changed since you read it"),
    413: ("too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-field", "A field is invalid"),
    500: ("internal", "Internal error"),
}


class ApiError(Exception):
    """An HTTP-level refusal raised by the service layer itself (auth, parsing, headers)."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    default_slug, default_title = _TITLES.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": f"urn:circles:problem:{slug or default_slug}",
        "title": title or default_title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    body.update({k: v for k, v in extra.items() if v is not None})
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="circles"'
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``{"fees.session_fee": ["..."]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = str(key) if key != "_schema" else ""
            path = ".".join(p for p in (prefix, name) if p) or "body"
            flat.update(flatten_messages(value, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat.setdefault(prefix or "body", []).extend(messages)
    elif isinstance(messages, list):
        for item in messages:
            flat.update(flatten_messages(item, prefix))
    else:
        flat.setdefault(prefix or "body", []).append(str(messages))
    return flat


def validation_problem(error: ValidationError, where: str = "body") -> Response:
    errors = flatten_messages(error.messages)
    listed = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
    return problem(422, f"The {where} has invalid fields — {listed}", errors=errors)


def domain_problem(error: DomainError) -> Response:
    status, slug, title = next(
        ((st, sl, ti) for cls, st, sl, ti in _DOMAIN if isinstance(error, cls)),
        (409, "conflict", "Conflict"),
    )
    errors = None
    if isinstance(error, InvalidInputError):
        errors = {error.field or "body": [error.message]}
    extra = {k: v for k, v in error.details.items() if isinstance(v, str | int)}
    headers = {}
    if isinstance(error, StaleVersionError):
        headers["ETag"] = f'"{error.current_version}"'
    return problem(
        status, error.message, slug=slug, title=title, errors=errors, headers=headers, **extra
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return problem(
            error.status, error.detail, errors=error.errors, headers=error.headers, **error.extra
        )

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        return domain_problem(error)

    @app.errorhandler(ValidationError)
    def _validation_error(error: ValidationError) -> Response:
        return validation_problem(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if isinstance(error, SecurityError):  # a Host outside TRUSTED_HOSTS
            return problem(
                400,
                "This service does not answer for the host this request named; "
                "use its configured address.",
                slug="untrusted-host",
                title="Host not accepted",
            )
        headers = {}
        if status == 405:
            allow = dict(error.get_headers()).get("Allow")
            if allow:
                headers["Allow"] = allow
        detail = {
            404: "There is nothing at this address; check the path against /openapi.json.",
            405: "This address does not accept that method; see the Allow header.",
            413: "The request body is larger than this API accepts (64 KiB).",
        }.get(status, error.description or "")
        return problem(status, detail, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error", exc_info=error)
        return problem(500, "Something went wrong on our side; it has been logged.")
