"""The buffering gunicorn worker's reading of a request's framing (service/gunicorn_worker.py).

A request is handed to a thread only when complete; these cases pin what "complete" means.
Anything malformed or oversized is handed over at once (gunicorn or the app refuses it).
"""

from __future__ import annotations

import socket

import pytest

from service.gunicorn_worker import BufferedSocket

HEAD = b"POST /x HTTP/1.1\r\nHost: h\r\n"


def _complete(data: bytes, max_body: int = 100) -> bool:
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)
        buffered = BufferedSocket(left, read_timeout=5, max_body=max_body)
        right.sendall(data)
        done = buffered.fill()
        assert bytes(buffered.pending) == data or buffered.eof
        return done


@pytest.mark.parametrize(
    "data,complete",
    [
        (b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: h\r\n", False),  # headers still coming
        (HEAD + b"Content-Length: 5\r\n\r\nabc", False),
        (HEAD + b"Content-Length: 5\r\n\r\nabcde", True),
        (HEAD + b"content-length: 5\r\n\r\nabcdeGET", True),  # a pipelined next request
        (HEAD + b"Content-Length: 101\r\n\r\n{", True),  # too large: the app answers 413
        (HEAD + b"Content-Length: x\r\n\r\n", True),  # malformed: gunicorn answers 400
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", False),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n", False),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", True),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n", True),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: v\r\n", False),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", True),  # malformed
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n65\r\n", True),  # 101 bytes: too large
        (b"X" * (17 * 1024), True),  # no end of headers in 16 KiB: gunicorn answers 400
    ],
)
def test_a_request_is_complete_when_a_thread_can_answer_it(data: bytes, complete: bool) -> None:
    assert _complete(data) is complete


def test_a_closed_connection_is_handed_over() -> None:
    left, right = socket.socketpair()
    with left:
        left.setblocking(False)
        buffered = BufferedSocket(left, read_timeout=5, max_body=100)
        right.sendall(b"GET / HT")
        right.close()
        assert buffered.fill() is True and buffered.eof
        assert buffered.recv(100) == b"GET / HT" and buffered.recv(100) == b""


def test_a_blocking_read_past_the_deadline_ends_the_stream() -> None:
    left, right = socket.socketpair()
    with left, right:
        buffered = BufferedSocket(left, read_timeout=0.2, max_body=100)
        right.sendall(b"ab")
        assert buffered.recv(10) == b"ab"
        assert buffered.recv(10) == b""  # nothing more within the deadline: end of stream
