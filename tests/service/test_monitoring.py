"""Projection lag at /healthz/projections: what an operator alerts on (docs/operations.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from projections.store import StoreSettings
from service import create_app
from service.reads import inline_mode
from tests.conftest import Clock
from tests.domain.helpers import FEES
from tests.service.conftest import group_body


@pytest.fixture
def worker_mode_app(pg_schema: StoreSettings, clock: Clock) -> Iterator[object]:
    app = create_app({"STORE": pg_schema, "CLOCK": clock, "TESTING": True})
    yield app
    app.extensions["circles"].close()


def test_lag_shows_unprojected_events_until_the_views_catch_up(worker_mode_app: object) -> None:
    from flask import Flask

    assert isinstance(worker_mode_app, Flask)
    services = worker_mode_app.extensions["circles"]
    key, _ = services.storage.create_key("coordinator", "monitor test")
    client = worker_mode_app.test_client()
    auth = {"Authorization": f"Bearer {key}"}

    idle = client.get("/healthz/projections").get_json()
    assert idle["lag_events"] == 0 and idle["lag_seconds"] == 0 and idle["mode"] == "worker"

    # PostgreSQL: a worker projects, so a command leaves the views behind until a read.
    created = client.post("/groups", json=group_body(fees=dict(FEES)), headers=auth)
    assert created.status_code == 201
    behind = client.get("/healthz/projections").get_json()
    assert behind["head"] > behind["position"] and behind["lag_events"] > 0
    assert behind["lag_seconds"] >= 0 and behind["rebuilding"] is False

    assert client.get("/groups", headers=auth).status_code == 200  # read-your-writes
    caught_up = client.get("/healthz/projections").get_json()
    assert caught_up["lag_events"] == 0 and caught_up["position"] == behind["head"]


def test_projection_mode_comes_from_config_then_environment() -> None:
    assert inline_mode({}, {}) is None
    assert inline_mode({}, {"CIRCLES_PROJECTIONS": "worker"}) is False
    assert inline_mode({}, {"CIRCLES_PROJECTIONS": "inline"}) is True
    assert inline_mode({"PROJECTIONS_INLINE": True}, {"CIRCLES_PROJECTIONS": "worker"}) is True
    with pytest.raises(ValueError, match="inline or worker"):
        inline_mode({}, {"CIRCLES_PROJECTIONS": "both"})
