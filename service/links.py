"""Where links point (feeds, invitations) and which ``Host`` this service answers for.

A link carries a capability token, so it must never point at a host the request named:
anyone can send ``Host: evil.example``. Links are built from ``PUBLIC_URL`` (config or
environment). Without it, only trusted hosts are answered at all — Flask's
``TRUSTED_HOSTS`` (config, or the environment as a comma-separated list), by default
``localhost`` and ``127.0.0.1`` for the demo and tests — and any other ``Host`` gets a
problem+json 400 before a route runs; a link then names the trusted host the request used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Flask, current_app, request

from projections.store import ConfigurationError

LOCAL_HOSTS = ["localhost", "127.0.0.1"]


def configure(app: Flask, environ: Mapping[str, str] | None = None) -> None:
    """Settle ``PUBLIC_URL`` and ``TRUSTED_HOSTS`` from the config, else the environment."""
    env = os.environ if environ is None else environ
    public_url = app.config.get("PUBLIC_URL") or env.get("PUBLIC_URL", "").strip() or None
    if public_url is not None:
        app.config["PUBLIC_URL"] = _checked_public_url(str(public_url))
    trusted: Any = app.config.get("TRUSTED_HOSTS")
    if trusted is None and env.get("TRUSTED_HOSTS", "").strip():
        trusted = [h.strip() for h in env["TRUSTED_HOSTS"].split(",") if h.strip()]
    if trusted is None and public_url is None:
        trusted = list(LOCAL_HOSTS)
    # With PUBLIC_URL set and no TRUSTED_HOSTS, any Host is answered: no link depends on it.
    app.config["TRUSTED_HOSTS"] = trusted


def _checked_public_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(
            f"PUBLIC_URL must be an absolute http(s) URL such as https://circles.example.org "
            f"(got {value!r})"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError("PUBLIC_URL takes no query, fragment or credentials")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def public_base() -> str:
    """Where clients reach this service: ``PUBLIC_URL``, else the (trusted) request host —
    over https, except plain http for a local development server."""
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return str(configured)
    host = request.host  # already checked against TRUSTED_HOSTS when the request began
    local = host.rsplit(":", 1)[0] in LOCAL_HOSTS
    scheme = request.scheme if local else "https"
    return f"{scheme}://{host}"


def links(path: str) -> dict[str, str]:
    """The https URL, the ``webcal://`` URL and Google Calendar's "add by URL" link."""
    url = public_base() + path
    webcal = "webcal://" + url.split("://", 1)[1]
    return {
        "url": url,
        "webcal_url": webcal,
        "google_url": "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
    }
