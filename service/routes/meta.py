"""/healthz, /openapi.json and /docs (Swagger UI served locally: no CDN, works offline)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, json, send_from_directory
from marshmallow import fields

from service.context import services
from service.endpoint import endpoint
from service.errors import ApiError
from service.openapi import build_openapi
from service.schemas.common import Out

bp = Blueprint("meta", __name__)
TAG = "meta"
HEALTH_DEAD_LETTERS = 50


class Health(Out):
    status = fields.String(required=True, metadata={"example": "ok"})


def _swagger_dir() -> Path | None:
    try:
        import swagger_ui_bundle  # type: ignore[import-untyped]
    except ImportError:
        return None
    return Path(swagger_ui_bundle.swagger_ui_path)


@bp.get("/healthz")
@endpoint(summary="Liveness", tag=TAG, roles=None, response=Health())
def healthz(call: Any) -> dict[str, str]:
    return {"status": "ok"}


class DeadLetterOut(Out):
    view = fields.String(
        required=True,
        metadata={"enum": ["directory", "calendars", "attendance", "costs"]},
    )
    notification_id = fields.Integer(
        required=True, metadata={"description": "The event the view skipped"}
    )
    topic = fields.String(required=True, metadata={"description": "That event's type"})
    error_type = fields.String(required=True, metadata={"example": "OverflowError"})
    summary = fields.String(
        required=True,
        metadata={"description": "Where the error was raised (never its message)"},
    )
    attempts = fields.Integer(required=True)
    recorded_at = fields.DateTime(required=True)


class ProjectionLag(Out):
    status = fields.String(
        required=True,
        metadata={
            "enum": ["ok", "degraded"],
            "description": "degraded: some view skipped an event it could not apply (a dead "
            "letter); its routes answer what they have, marked Circles-Views: degraded",
        },
    )
    position = fields.Integer(
        required=True, metadata={"description": "Last event id reflected in the views"}
    )
    head = fields.Integer(required=True, metadata={"description": "Last event id in the store"})
    lag_events = fields.Integer(required=True, metadata={"description": "head - position"})
    lag_seconds = fields.Float(
        required=True,
        metadata={"description": "Age of the oldest event not yet in the views (0: caught up)"},
    )
    rebuilding = fields.Boolean(required=True, metadata={"description": "A rebuild is under way"})
    mode = fields.String(
        required=True,
        metadata={"enum": ["inline", "worker"], "description": "Who projects: web or worker"},
    )
    degraded_views = fields.List(fields.String(), required=True)
    dead_letter_count = fields.Integer(required=True)
    dead_letters = fields.List(
        fields.Nested(DeadLetterOut),
        required=True,
        metadata={"description": f"The first {HEALTH_DEAD_LETTERS}, by event id"},
    )


@bp.get("/healthz/projections")
@endpoint(
    summary="Projection lag",
    description="How far the views are behind the event store, in events and seconds, and "
    "whether any view is degraded (has skipped an event: its dead letters are listed). Read "
    "as is: this route never catches up, so it shows what a monitor should alert on.",
    tag=TAG,
    roles=None,
    response=ProjectionLag(),
)
def projection_lag(call: Any) -> dict[str, Any]:
    lag = services().require_reads().lag()
    letters = lag.dead_letters
    return {
        "status": "degraded" if letters else "ok",
        "position": lag.position,
        "head": lag.head,
        "lag_events": lag.lag_events,
        "lag_seconds": lag.lag_seconds,
        "rebuilding": lag.rebuilding,
        "mode": "inline" if lag.inline else "worker",
        "degraded_views": sorted({letter.view for letter in letters}),
        "dead_letter_count": len(letters),
        "dead_letters": letters[:HEALTH_DEAD_LETTERS],
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    spec = current_app.extensions.get("circles_openapi")
    if spec is None:
        spec = current_app.extensions["circles_openapi"] = build_openapi(current_app)
    return Response(json.dumps(spec), mimetype="application/json")


_SWAGGER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Circles API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/static/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body></html>"""

_SWAGGER_INIT = """window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout", persistAuthorization: true, validatorUrl: null});"""


@bp.get("/docs")
def docs() -> Response:
    if _swagger_dir() is not None:
        return Response(_SWAGGER_PAGE, mimetype="text/html")
    return Response(_plain_docs(build_openapi(current_app)), mimetype="text/html")


@bp.get("/docs/init.js")
def docs_init() -> Response:
    return Response(_SWAGGER_INIT, mimetype="text/javascript")


@bp.get("/docs/static/<path:filename>")
def docs_static(filename: str) -> Response:
    folder = _swagger_dir()
    if folder is None:
        raise ApiError(404, "Swagger UI is not installed; /docs shows a plain page instead.")
    return send_from_directory(folder, filename, max_age=3600)


def _plain_docs(spec: dict[str, Any]) -> str:
    """A self-contained page when Swagger UI's assets are not installed."""
    rows = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}"
                f"</code></td><td>{html.escape(op.get('summary', ''))}</td>"
                f"<td>{html.escape(op.get('description', ''))}</td></tr>"
            )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Circles API</title>"
        "</head><body><h1>Circles API</h1><p>Machine-readable: "
        "<a href='/openapi.json'>/openapi.json</a></p><table border='1' cellpadding='4'>"
        + "".join(rows)
        + "</table></body></html>"
    )
