"""The application factory: ``create_app(config)``. Nothing is opened at import time."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from domain.application import Circles
from projections.store import StoreSettings
from service.context import Services
from service.errors import register_error_handlers
from service.feed_freshness import StoreHead
from service.headers import install as install_security_headers
from service.keys_and_idempotency import ServiceStorage
from service.links import configure as configure_links
from service.logmask import install as install_log_masking

MAX_BODY_BYTES = 64 * 1024


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app.

    ``config`` may carry ``STORE`` (a ``StoreSettings``; default from the environment),
    ``CLOCK`` (a callable returning an aware ``datetime``), ``PASSWORD_HASHER`` (an argon2
    ``PasswordHasher``; tests pass a cheap one) and any Flask setting.
    """
    app = Flask("service")
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False)
    if config:
        app.config.update(config)
    configure_links(app)
    settings: StoreSettings = app.config.get("STORE") or StoreSettings.from_env()
    clock = app.config.get("CLOCK") or (lambda: datetime.now(UTC))
    # Cached aggregates are fast-forwarded from the store on every read (so several
    # processes stay consistent) and copied (domain.repository.working_copy) before a
    # command touches them; recording attendance reads them cache-first (see cache_first).
    env = {
        **settings.eventsourcing_env(),
        "AGGREGATE_CACHE_MAXSIZE": str(app.config.get("AGGREGATE_CACHE_MAXSIZE", 2000)),
    }
    with settings.setup_lock():  # several processes may be starting on a fresh schema
        circles = Circles(env=env, clock=clock)
        services = Services(
            settings=settings,
            circles=circles,
            storage=ServiceStorage(settings),
            clock=clock,
        )
        if app.config.get("PASSWORD_HASHER") is not None:  # tests: a cheaper argon2id
            services.storage.staff.hasher = app.config["PASSWORD_HASHER"]
        services.reads = _read_side(circles, settings, app.config)
        # No I/O here: a PostgreSQL listener starts on the first feed request, i.e. after
        # gunicorn has forked its workers.
        services.head = StoreHead(circles, settings)
    app.extensions["circles"] = services

    register_error_handlers(app)
    install_security_headers(app)
    install_log_masking()
    _register_blueprints(app)
    _register_cli(app)
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO)
    return app


def _read_side(circles: Circles, settings: StoreSettings, config: Mapping[str, Any]) -> Any:
    from service.reads import ReadSide

    return ReadSide.create(circles, settings, config)


def _register_blueprints(app: Flask) -> None:
    from service.routes import (
        enrollments,
        feeds,
        groups,
        invitations,
        keys,
        meta,
        sessions,
        views,
    )

    for module in (meta, groups, sessions, enrollments, invitations, keys, views, feeds):
        app.register_blueprint(module.bp)

    from service import web

    web.register(app)


def _register_cli(app: Flask) -> None:
    from service.cli import register

    register(app)
