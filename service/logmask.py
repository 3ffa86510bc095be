"""Keep capability tokens out of logs: access-log lines show ``/feeds/***.ics``.

Werkzeug's development server and gunicorn's access log write the request path; a feed or
invitation token in a log file would be a working key to someone's calendar. The filter
rewrites each record's message before any handler formats it.
"""

from __future__ import annotations

import logging
import re

# /feeds/<token>.ics, /i/<token>, /i/<token>.ics, /i/<token>/accept — any token-like segment.
_TOKEN_PATH = re.compile(r"(/(?:feeds|i)/)[^/\s?#\"'.]+")
MASK = r"\1***"
LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error", "service", "flask.app")


def mask(text: str) -> str:
    return _TOKEN_PATH.sub(MASK, text)


class TokenMaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix; let it through
            return True
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install() -> None:
    """Attach the filter to the loggers that write request paths (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenMaskFilter) for f in logger.filters):
            logger.addFilter(TokenMaskFilter())
