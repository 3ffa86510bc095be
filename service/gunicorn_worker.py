"""A gunicorn worker that gives a thread only to a request that has fully arrived.

gunicorn's ``gthread`` worker hands a connection to a thread as soon as it is readable,
and the thread then blocks reading the request line, the headers and (when the app asks)
the body. A client that announces ``Content-Length: 100`` and sends one byte, or sends
its headers a byte at a time, holds that thread for as long as it likes; a few dozen such
clients hold every thread of every worker and ``/healthz`` stops answering (issue 11,
finding 3).

This worker reads in its event loop instead, without blocking, and keeps what arrives in
front of the socket (:class:`BufferedSocket`). Only when the request is complete — the
headers and a body of up to ``max_body`` bytes — does a thread parse and answer it, so a
thread never waits on a client. Until then the connection costs a poller slot and its
buffer. Every request must arrive within ``read_timeout`` seconds of its first byte (or of
the connection being accepted), or the connection is answered ``408`` and closed.

What cannot be buffered in advance is still bounded by the same deadline: a chunked body
whose end the loop cannot see, a body announced larger than ``max_body`` (the app refuses
it unread, with 413), the rest of a pipelined request. A thread reading those gets an
end-of-stream once the deadline passes, and a connection whose request body was not read
to its end is closed rather than kept alive, so no thread ever drains it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn.http.body import ChunkedReader, LengthReader
from gunicorn.workers.gthread import TConn, ThreadWorker

from service.app import MAX_BODY_BYTES

DEFAULT_READ_TIMEOUT = 10.0
MAX_HEAD_BYTES = 16 * 1024  # gunicorn's own limits refuse less (request line 4094, fields 8190)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class BufferedSocket:
    """A client socket with the bytes the event loop already read in front of it.

    ``recv`` answers from the buffer first; past it, a blocking read waits at most until
    ``deadline`` and then reports end-of-stream (``b""``), which gunicorn's parser and the
    application's body reader both treat as a client that went away.
    """

    def __init__(self, sock: socket.socket, read_timeout: float, max_body: int) -> None:
        self._sock = sock
        self.read_timeout = read_timeout
        self.max_body = max_body
        self.pending = bytearray()
        self.deadline = time.monotonic() + read_timeout
        self.eof = False
        self.continued = False  # a "100 Continue" was sent for the request being read

    # --- as a socket --------------------------------------------------------------------------

    def fileno(self) -> int:
        return self._sock.fileno()

    def recv(self, size: int, flags: int = 0) -> bytes:
        if self.pending:
            data = bytes(self.pending[:size])
            del self.pending[:size]
            return data
        if self.eof:
            return b""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return b""
        self._sock.settimeout(remaining)
        try:
            data = self._sock.recv(size, flags)
        except TimeoutError:
            return b""
        finally:
            self._sock.settimeout(None)
        if not data:
            self.eof = True
        return data

    def send(self, data: bytes, flags: int = 0) -> int:
        if self.continued and data == CONTINUE:
            # gunicorn answers Expect: 100-continue once it parses the request; the event
            # loop has already done so (to get the body): do not say it twice.
            self.continued = False
            return len(data)
        return self._sock.send(data, flags)

    def __getattr__(self, name: str) -> Any:  # sendall, setblocking, close, ...
        return getattr(self._sock, name)

    # --- the event loop's side ----------------------------------------------------------------

    def start_request(self) -> None:
        """The next request's clock starts now (a kept-alive connection became readable)."""
        self.deadline = time.monotonic() + self.read_timeout
        self.continued = False

    def fill(self) -> bool:
        """Read what has arrived, without blocking. True once a thread can take over: the
        request is complete, or the client has closed, or it can never be buffered."""
        while True:
            try:
                chunk = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            if not chunk:
                self.eof = True
                return True
            self.pending += chunk
            if len(self.pending) > MAX_HEAD_BYTES + self.max_body:
                return True
        return self._complete()

    def _complete(self) -> bool:
        buffer = self.pending
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return len(buffer) > MAX_HEAD_BYTES  # gunicorn answers 400 for that
        length, chunked, expect = _framing(bytes(buffer[:end]))
        body = memoryview(buffer)[end + 4 :]
        if chunked:
            done = _chunked_complete(body, self.max_body)
        elif length is None:
            done = True  # no body, or framing gunicorn refuses
        else:
            done = length > self.max_body or len(body) >= length
        if not done and expect and not self.continued:
            self.continued = True
            with contextlib.suppress(OSError):
                self._sock.send(CONTINUE)
        return done


def _framing(head: bytes) -> tuple[int | None, bool, bool]:
    """(Content-Length, chunked?, Expect: 100-continue?) from a request head; a malformed
    length reads as 0 so the thread gets the request and gunicorn refuses it."""
    length: int | None = None
    chunked = expect = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value) if value.isdigit() and len(value) < 16 else 0
        elif name == b"transfer-encoding":
            chunked = chunked or b"chunked" in value
        elif name == b"expect":
            expect = value == b"100-continue"
    return length, chunked, expect


def _chunked_complete(body: memoryview, max_body: int) -> bool:
    """Whether a chunked body has arrived to its last chunk and the end of its trailers
    (or is malformed, or larger than the app accepts: then a thread answers at once)."""
    at = total = 0
    while True:
        eol = bytes(body[at : at + 64]).find(b"\r\n")
        if eol < 0:
            return len(body) - at > 64
        size_text = bytes(body[at : at + eol]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return True
        at += eol + 2
        if size == 0:
            trailers = bytes(body[at:])  # none, or header lines; then an empty line
            return trailers.startswith(b"\r\n") or b"\r\n\r\n" in trailers
        total += size
        if total > max_body:
            return True
        at += size + 2
        if at > len(body):
            return False


def _body_read(req: Any) -> bool:
    """Whether the app read the request body to its end (else the connection is closed)."""
    reader = req.body.reader
    if isinstance(reader, LengthReader):
        return bool(reader.length == 0)
    if isinstance(reader, ChunkedReader):
        return reader.parser is None
    return False


class BufferingThreadWorker(ThreadWorker):
    """``gthread``, with requests buffered in the event loop before a thread sees them."""

    def init_process(self) -> None:
        self._reading: dict[TConn, float] = {}
        super().init_process()

    def accept(self, server: Any, listener: socket.socket) -> None:
        try:
            sock, client = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        conn = TConn(self.cfg, sock, client, server)
        if not self.cfg.is_ssl:  # TLS ends at the platform's router; see docs/operations.md
            conn.sock = BufferedSocket(sock, read_timeout(), MAX_BODY_BYTES)
        self.nr_conns += 1
        with self._lock:
            self._watch(conn)

    def _watch(self, conn: TConn) -> None:
        """Wait for the connection's bytes in the poller (the caller holds the lock)."""
        if isinstance(conn.sock, BufferedSocket):
            self._reading[conn] = conn.sock.deadline
        self.poller.register(
            conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn)
        )

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        with self._lock:
            self.poller.unregister(client)
            if conn in self._reading:
                del self._reading[conn]
            elif conn.initialized:
                try:
                    self._keep.remove(conn)  # a kept-alive connection: a new request begins
                except ValueError:
                    return  # already closed by murder_keepalived
                if isinstance(conn.sock, BufferedSocket):
                    conn.sock.start_request()
        sock = conn.sock
        if isinstance(sock, BufferedSocket):
            try:
                complete = sock.fill()
            except OSError:
                self.nr_conns -= 1
                conn.close()
                return
            if not complete:
                with self._lock:
                    self._watch(conn)
                return
        self.enqueue_req(conn)

    def murder_keepalived(self) -> None:
        super().murder_keepalived()
        now = time.monotonic()
        with self._lock:
            late = [conn for conn, deadline in self._reading.items() if deadline <= now]
            for conn in late:
                del self._reading[conn]
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self.poller.unregister(conn.sock)
        for conn in late:
            self.nr_conns -= 1
            with contextlib.suppress(OSError):
                conn.sock.send(REQUEST_TIMEOUT)
            conn.close()

    def handle_request(self, req: Any, conn: TConn) -> bool:
        keepalive: bool = super().handle_request(req, conn)
        # A body the app did not read would be drained by a thread before the next request;
        # close instead (the client may reconnect).
        return keepalive and _body_read(req)


def read_timeout() -> float:
    """``WEB_READ_TIMEOUT``: seconds a client has to send a whole request (default 10)."""
    return float(os.environ.get("WEB_READ_TIMEOUT", "") or DEFAULT_READ_TIMEOUT)
