"""The service under the Flask test client, on SQLite and PostgreSQL, with one key per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from projections.store import StoreSettings
from service import create_app
from tests.conftest import Clock
from tests.domain.helpers import group_args, plan_args

ROLE_KEYS = {
    "coordinator": ("coordinator", None),
    "therapist": ("therapist", "t-ana"),
    "other_therapist": ("therapist", "t-zed"),
    "billing": ("billing", None),
    "admin": ("admin", None),
}


# The same valid group and plan the domain tests use, as JSON bodies.
def group_body(**overrides: Any) -> dict[str, Any]:
    return group_args(**overrides)


def plan_body(**overrides: Any) -> dict[str, Any]:
    return plan_args(**overrides)


@dataclass
class Api:
    """The test client with a key per role: ``api.post(path, json=..., role="billing")``."""

    app: Flask
    client: FlaskClient
    clock: Clock
    keys: dict[str, str] = field(default_factory=dict)

    def call(
        self, method: str, path: str, role: str | None = "coordinator", **kwargs: Any
    ) -> TestResponse:
        headers = dict(kwargs.pop("headers", {}) or {})
        if role is not None:
            headers.setdefault("Authorization", f"Bearer {self.keys[role]}")
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> TestResponse:
        return self.call("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> TestResponse:
        return self.call("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> TestResponse:
        return self.call("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> TestResponse:
        return self.call("DELETE", path, **kw)

    # --- builders -----------------------------------------------------------------------------

    def group(self, opened: bool = True, **overrides: Any) -> dict[str, Any]:
        """A group open for enrollment; ``opened=False`` leaves it planned."""
        r = self.post("/groups", json=group_body(**overrides))
        assert r.status_code == 201, r.get_json()
        if not opened:
            return dict(r.get_json())
        r = self.post(f"/groups/{r.get_json()['id']}/open")
        assert r.status_code == 200, r.get_json()
        return dict(r.get_json())

    def plan(self, group_id: str, **overrides: Any) -> list[dict[str, Any]]:
        r = self.post(f"/groups/{group_id}/sessions", json=plan_body(**overrides))
        assert r.status_code == 201, r.get_json()
        return list(r.get_json()["sessions"])

    def enroll(self, group_id: str, patient_id: str, **extra: Any) -> dict[str, Any]:
        body = {"patient_id": patient_id, "patient_name": f"Patient {patient_id}", **extra}
        r = self.post(f"/groups/{group_id}/enrollments", json=body)
        assert r.status_code == 201, r.get_json()
        return dict(r.get_json())


# argon2id at its cheapest: staff sign-ins in tests need not cost 64 MiB and a second each.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def make_api(store: StoreSettings, clock: Clock) -> Iterator[Api]:
    app = create_app(
        {"STORE": store, "CLOCK": clock, "TESTING": True, "PASSWORD_HASHER": FAST_HASHER}
    )
    storage = app.extensions["circles"].storage
    api = Api(app=app, client=app.test_client(), clock=clock)
    for name, (role, therapist_id) in ROLE_KEYS.items():
        api.keys[name], _ = storage.create_key(role, f"test {name}", therapist_id)
    try:
        yield api
    finally:
        app.extensions["circles"].close()


@pytest.fixture
def api(durable_store: StoreSettings, clock: Clock) -> Iterator[Api]:
    yield from make_api(durable_store, clock)


def problem(response: TestResponse, status: int) -> dict[str, Any]:
    """Assert a problem+json answer with this status; return its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status and body["detail"] and body["type"] and body["title"]
    return body
