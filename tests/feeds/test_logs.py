"""Tokens never reach the logs: a real HTTP server's access log, and gunicorn's format."""

from __future__ import annotations

import contextlib
import logging
import threading
import urllib.error
import urllib.request

import pytest
from werkzeug.serving import make_server

from service.logmask import TokenMaskFilter, mask
from tests.feeds.test_feeds import PATIENT, clinic, issue, path_of
from tests.service.conftest import Api


def test_a_served_feed_request_logs_its_path_without_the_token(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    clinic(api)
    token = issue(api, "patients", PATIENT)["token"]
    server = make_server("127.0.0.1", 0, api.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    paths = [f"/feeds/{token}.ics", f"/i/{token}", f"/i/{token}.ics", f"/i/{token}/accept"]
    try:
        with caplog.at_level(logging.INFO):
            for path in paths:
                method = "POST" if path.endswith("accept") else "GET"
                request = urllib.request.Request(base + path, method=method)
                with contextlib.suppress(urllib.error.HTTPError):  # a 404 is logged too
                    urllib.request.urlopen(request, timeout=10).close()
    finally:
        server.shutdown()
        thread.join(5)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/feeds/***.ics" in logged and "/i/***.ics" in logged and "/i/***/accept" in logged
    assert token not in logged
    assert token not in caplog.text


def test_gunicorn_style_access_records_are_masked() -> None:
    token = "Zk3_-" + "a" * 38
    atoms = {"h": "127.0.0.1", "r": f"GET /feeds/{token}.ics HTTP/1.1", "s": "200"}
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, '%(h)s "%(r)s" %(s)s', (atoms,), None
    )
    assert TokenMaskFilter().filter(record)
    assert record.getMessage() == '127.0.0.1 "GET /feeds/***.ics HTTP/1.1" 200'
    assert path_of(f"https://x/i/{token}") == f"/i/{token}"
    assert mask(f"/groups/g-1/calendar.ics /i/{token}?x") == "/groups/g-1/calendar.ics /i/***?x"
