"""Browser tests: Debian's Chromium driven by Playwright against one real server per run.

One server (werkzeug's ``make_server`` in a thread, SQLite) and one browser are shared by
every test here; each test gets a fresh browser context, so no cookies leak between tests.
The server's clock is a settable ``Clock``: idle sign-out is tested by moving it.
Without Chromium the tests skip saying so; with ``CIRCLES_REQUIRE_ALL=1`` (CI) they fail.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from projections.store import StoreSettings
from service import create_app
from tests.conftest import Clock, skip_or_fail
from tests.service.conftest import FAST_HASHER, ROLE_KEYS, Api

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"
CHROMIUM = os.environ.get("CIRCLES_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery"
# Session 1 of the seeded group (Tuesday 2 March 2027, 18:00 New York) has just started.
START = datetime(2027, 3, 2, 23, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    """The system Chromium (Playwright cannot download its own browser here)."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        skip_or_fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    return {
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"],
    }  # fmt: skip


@dataclass
class Site:
    """The running server, its clock, and the test client of the same app (for the API)."""

    base: str
    app: Flask
    clock: Clock
    api: Api
    seeded: dict[str, Any]

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    store = StoreSettings("sqlite", sqlite_path=tmp_path_factory.mktemp("web") / "c.sqlite3")
    clock = Clock(START)
    app = create_app(
        {"STORE": store, "CLOCK": clock, "WEB_SECURE_COOKIES": False,
         "CLINIC_TIMEZONE": "America/New_York", "PASSWORD_HASHER": FAST_HASHER}
    )  # fmt: skip
    services = app.extensions["circles"]
    api = Api(app=app, client=app.test_client(), clock=clock)
    for name, (role, therapist_id) in ROLE_KEYS.items():
        api.keys[name], _ = services.storage.create_key(role, f"test {name}", therapist_id)
    staff = services.storage.staff
    for email, name, role, tid in [
        ("admin@clinic.example", "Ada Admin", "admin", None),
        ("ana@clinic.example", "Ana Silva", "therapist", "t-ana"),
        ("dana@clinic.example", "Dana Reyes", "coordinator", None),
    ]:
        staff.create(email, name, role, PASSWORD, clock(), therapist_id=tid)
    seeded = _seed(api)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_port}", app, clock, api, seeded)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        services.close()


def _seed(api: Api) -> dict[str, Any]:
    """A group Ana facilitates, planned in the past (session 1 has started), 4 patients."""
    saved = api.clock.now
    api.clock.set(datetime(2027, 2, 1, 12, 0, tzinfo=UTC))
    group = api.group(name="Tuesday evening IPT")
    sessions = api.plan(group["id"], first_date="2027-03-02", count=12)
    names = {"p-1": "Alex Moreno", "p-2": "Bea Lindqvist", "p-3": "Chidi Okafor",
             "p-4": "Dana Kowalski-Featherstonehaugh"}  # fmt: skip
    for pid, name in names.items():
        api.enroll(group["id"], pid, patient_name=name)
    api.clock.set(saved)
    return {"group": group, "sessions": sessions, "names": names}


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Any:
    """``shot(page, "what")`` saves var/screenshots/<test>-<what>.png (not committed)."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, what: str) -> Path:
        path = SHOTS / f"{request.node.name}-{what}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
