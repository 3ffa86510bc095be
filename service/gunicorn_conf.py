"""gunicorn settings for the ``web`` process (``Procfile``, ``scripts/run-postgres.sh``).

Slow clients must not starve the service (issue 11): requests are read by
:class:`service.gunicorn_worker.BufferingThreadWorker`, which buffers each request in its
event loop and hands a thread only a request that has fully arrived, within
``WEB_READ_TIMEOUT`` seconds. docs/operations.md lists the knobs:

- ``WEB_CONCURRENCY`` worker processes (default 2), each with ``WEB_THREADS`` threads
  (default 8) answering complete requests and at most ``WEB_CONNECTIONS`` open
  connections (default 200; each may buffer up to 64 KiB of body);
- ``WEB_READ_TIMEOUT`` (default 10 s): a request must arrive within it, or 408 and close;
- idle kept-alive connections close after 2 s; a worker silent for 30 s is restarted.
"""

from __future__ import annotations

import os
from typing import Any

worker_class = "service.gunicorn_worker.BufferingThreadWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", "") or 2)
threads = int(os.environ.get("WEB_THREADS", "") or 8)
worker_connections = int(os.environ.get("WEB_CONNECTIONS", "") or 200)
keepalive = 2
timeout = 30
graceful_timeout = 20


def on_starting(server: Any) -> None:
    # Whatever the service writes (SQLite's files, exports, pid files) is the clinic's:
    # private to the service's user, whatever umask the platform started it with.
    os.umask(0o077)
