"""Slow clients cannot starve the service (issue 11, finding 3).

The Procfile's ``web`` line, as a platform runs it, with one worker process: 20 clients
that announce a body and send one byte of it (or send their headers and stop) hold
connections, and ``/healthz`` still answers; each slow client is answered 408 and dropped
once ``WEB_READ_TIMEOUT`` has passed; ordinary requests keep working throughout.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from projections.store import StoreSettings
from tests.e2e.conftest import ROOT, free_port, store_env

SLOW = 20
READ_TIMEOUT = 3  # seconds a request may take to arrive (WEB_READ_TIMEOUT)
# Client timeouts: generous, far beyond what a healthy answer takes (milliseconds; the bar
# is a second), yet shorter than the 30 s a blocked sync worker takes to be killed.
HEALTHZ_PATIENCE = 10
PATIENT = 30

SLOW_BODY = (
    b"POST /i/" + b"x" * 43 + b"/accept HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
)
SLOW_HEADERS = b"POST /groups HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"


@pytest.fixture
def web(durable_store: StoreSettings, tmp_path: Path) -> Iterator[str]:
    """The Procfile's web process on a free port; yields its base URL."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    command = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("web:"))
    port = free_port()
    env = store_env(durable_store, tmp_path)
    env.update(
        PORT=str(port),
        WEB_CONCURRENCY="1",
        WEB_READ_TIMEOUT=str(READ_TIMEOUT),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    log = open(tmp_path / "web.log", "wb")  # noqa: SIM115 - the child writes to it
    proc = subprocess.Popen(
        ["bash", "-c", f"exec {command}"], env=env, cwd=ROOT, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.close()
                    raise RuntimeError((tmp_path / "web.log").read_text()[-2000:]) from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _slow_clients(base: str, opening: bytes, stack: ExitStack) -> list[socket.socket]:
    port = int(base.rsplit(":", 1)[1])
    clients = []
    for _ in range(SLOW):
        client = stack.enter_context(socket.create_connection(("127.0.0.1", port)))
        client.sendall(opening)
        clients.append(client)
    return clients


def _healthz(base: str) -> int:
    with urllib.request.urlopen(base + "/healthz", timeout=HEALTHZ_PATIENCE) as answer:
        return int(answer.status)


@pytest.mark.parametrize("opening", [SLOW_BODY, SLOW_HEADERS], ids=["slow-body", "slow-headers"])
def test_slow_clients_do_not_starve_healthz(web: str, opening: bytes) -> None:
    with ExitStack() as stack:
        clients = _slow_clients(web, opening, stack)
        time.sleep(0.5)  # let the server take them all in
        # Each of these would hold a sync worker (or a gthread thread) until it timed out.
        for _ in range(3):
            assert _healthz(web) == 200
        # A well-behaved request with a body is answered too (the token is unknown: 404).
        request = urllib.request.Request(
            web + "/i/" + "y" * 43 + "/accept", data=b"{}", method="POST"
        )
        request.add_header("Content-Type", "application/json")
        try:
            urllib.request.urlopen(request, timeout=PATIENT)
            raise AssertionError("an unknown invitation was accepted")
        except urllib.error.HTTPError as error:
            assert error.code == 404
        # Past the read deadline every slow client is told 408 and disconnected.
        for client in clients:
            client.settimeout(PATIENT)
            answer = b""
            while chunk := client.recv(4096):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]


def _read_answer(client: socket.socket) -> tuple[bytes, bytes]:
    """One HTTP answer with a Content-Length: (head, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += client.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += client.recv(4096)
    return head, body


def test_ordinary_clients_are_served_as_before(web: str) -> None:
    """Keep-alive, chunked bodies, Expect: 100-continue and pipelined requests still work
    with the buffering worker."""
    port = int(web.rsplit(":", 1)[1])
    accept = b"POST /i/" + b"z" * 43 + b"/accept HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENT) as client:
        # Two requests on one kept-alive connection.
        for _ in range(2):
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head, body = _read_answer(client)
            assert head.startswith(b"HTTP/1.1 200 ") and b'"ok"' in body
        # A chunked body, sent in pieces.
        client.sendall(accept + b"Content-Type: application/json\r\n")
        client.sendall(b"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n")
        time.sleep(0.2)
        client.sendall(b"1\r\n}\r\n0\r\n\r\n")
        head, _ = _read_answer(client)
        assert head.startswith(b"HTTP/1.1 404 ")  # the unknown token, checked first
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENT) as client:
        # Expect: 100-continue is answered before the body is sent.
        body = b'{"x": "' + b"y" * 5000 + b'"}'
        client.sendall(
            accept + b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        assert client.recv(4096).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        client.sendall(body)
        head, _ = _read_answer(client)
        assert head.startswith(b"HTTP/1.1 404 ")  # one 100 Continue, then the answer
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENT) as client:
        # A body far larger than the service accepts is not waited for.
        client.sendall(
            accept + b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{"
        )
        head, _ = _read_answer(client)
        assert head.startswith(b"HTTP/1.1 404 ")  # the token is checked before the body
