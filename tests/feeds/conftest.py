"""Feeds under the Flask test client (SQLite and PostgreSQL), parsed by two parsers in
process, and checked by libical and ical.js in subprocesses.

libical comes from Debian (``python3-gi``, ``gir1.2-ical-3.0``), importable only by the
system's /usr/bin/python3, so :data:`LIBICAL_CHECK` runs there; ical.js is pinned in
``js/package.json`` (``npm ci --prefix tests/feeds/js``) and run by node. Without them the
tests that need them skip, saying what to install; ``.ci/run`` installs both and sets
``CIRCLES_REQUIRE_ALL=1``, which turns that skip into a failure.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import icalendar
import pytest
import vobject

from projections.store import StoreSettings
from tests.conftest import REQUIRE_ALL, Clock, skip_or_fail
from tests.service.conftest import Api, make_api

HERE = Path(__file__).parent
SYSTEM_PYTHON = "/usr/bin/python3"
LIBICAL_CHECK = HERE / "libical_check.py"
LIBICAL_UNAVAILABLE = 3  # the check's exit status when it cannot load libical
JS = HERE / "js"
ICALJS_INSTANTS = JS / "instants.mjs"
INSTALL_LIBICAL = "apt-get install python3-gi gir1.2-ical-3.0"
INSTALL_ICALJS = "npm ci --prefix tests/feeds/js"


@functools.cache
def libical_missing() -> str | None:
    """Why libical cannot be used here, or None."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"libical check needs {SYSTEM_PYTHON} ({INSTALL_LIBICAL})"
    probe = "import gi; gi.require_version('ICalGLib', '3.0'); from gi.repository import ICalGLib"
    run = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True)
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["?"])[-1]
        return f"libical is not importable by {SYSTEM_PYTHON} ({last}): {INSTALL_LIBICAL}"
    return None


def libical(body: bytes) -> dict[str, Any]:
    """libical's verdict on a calendar: parse errors, the restriction check and the UTC
    instants of each event, read through the calendar's VTIMEZONEs."""
    missing = libical_missing()
    if missing is not None:
        skip_or_fail(missing)
    run = subprocess.run([SYSTEM_PYTHON, str(LIBICAL_CHECK)], input=body, capture_output=True)
    if run.returncode == LIBICAL_UNAVAILABLE:
        skip_or_fail(f"libical check could not load libical: {run.stdout.decode()}")
    assert run.returncode == 0, run.stderr.decode()
    verdict: dict[str, Any] = json.loads(run.stdout)
    return verdict


def assert_passes_libical(body: bytes) -> dict[str, Any]:
    """libical parses the calendar without an error and its restriction check passes."""
    verdict = libical(body)
    assert verdict["kind"] == "VCALENDAR"
    assert verdict["errors"] == [] and verdict["restrictions_ok"] is True, verdict["errors"]
    return verdict


@functools.cache
def icaljs_missing() -> str | None:
    if shutil.which("node") is None:
        return f"ical.js check needs node on PATH, then {INSTALL_ICALJS}"
    if not (JS / "node_modules" / "ical.js" / "package.json").is_file():
        return f"ical.js is not installed: {INSTALL_ICALJS}"
    return None


def icaljs_instants(body: bytes) -> dict[str, list[str]]:
    """The UTC start and end of each event (by UID) as ical.js reads them, through the
    calendar's own VTIMEZONEs (``js/instants.mjs``)."""
    missing = icaljs_missing()
    if missing is not None:
        skip_or_fail(missing)
    node = shutil.which("node")
    assert node is not None
    run = subprocess.run([node, str(ICALJS_INSTANTS)], input=body, capture_output=True)
    assert run.returncode == 0, run.stderr.decode()
    instants: dict[str, list[str]] = json.loads(run.stdout)
    return instants


@pytest.fixture
def api(durable_store: StoreSettings, clock: Clock) -> Iterator[Api]:
    yield from make_api(durable_store, clock)


@dataclass
class Parsed:
    """One feed as both parsers see it."""

    body: bytes
    ical: icalendar.Calendar
    vcal: Any  # vobject's VCALENDAR component

    @property
    def events(self) -> list[icalendar.Event]:
        return list(self.ical.walk("VEVENT"))

    @property
    def vevents(self) -> list[Any]:
        return list(getattr(self.vcal, "vevent_list", []))

    def by_uid(self) -> dict[str, icalendar.Event]:
        return {str(e["UID"]): e for e in self.events}


def forget_vobject_zones() -> None:
    """vobject keeps the first VTIMEZONE it ever read for a TZID, process-wide, and reads
    every later calendar's times through it; forget them, so that each feed is read
    through its own VTIMEZONEs (another test's feed may cover other years)."""
    zones: dict[str, Any] = vars(vobject.icalendar)["__tzidMap"]
    for tzid in [t for t in zones if t != "UTC"]:
        del zones[tzid]


def parse(body: bytes) -> Parsed:
    """Parse with icalendar and, independently, with vobject (validating), check the
    RFC 5545 rules neither parser enforces (CRLF, folding, a VTIMEZONE per TZID), and run
    libical's restriction check."""
    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b""), "bare LF"
    for line in body.split(b"\r\n"):
        assert len(line) <= 75, f"line longer than 75 octets: {line!r}"
    text = body.decode("utf-8")
    calendar = icalendar.Calendar.from_ical(text)
    assert calendar.get_missing_tzids() == set()
    assert str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    # A subscription, not an iTIP message: no METHOD, hence no ORGANIZER needed (RFC 5546).
    assert "METHOD" not in calendar
    forget_vobject_zones()
    vcal = vobject.readOne(text, validate=True)
    assert vcal.validate(raiseException=True)
    used = {
        str(e[name].params["TZID"])
        for e in calendar.walk("VEVENT")
        for name in ("DTSTART", "DTEND")
        if "TZID" in e[name].params
    }
    assert used <= {str(z["TZID"]) for z in calendar.walk("VTIMEZONE")}
    for event in calendar.walk("VEVENT"):
        assert "ATTENDEE" not in event and "ORGANIZER" not in event
        for name in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SEQUENCE", "LAST-MODIFIED"):
            assert name in event, name
    parsed = Parsed(body, calendar, vcal)
    assert len(parsed.vevents) == len(parsed.events)
    # libical too, wherever it is installed (and always in CI); the tests named after the
    # rule run it unconditionally.
    if libical_missing() is None or os.environ.get(REQUIRE_ALL) == "1":
        assert_passes_libical(body)
    return parsed
