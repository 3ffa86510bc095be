"""The pages (SPEC §8): server-rendered by the same app, calling the same handlers as JSON.

``register(app)`` adds the blueprints, the stylesheet and the page settings:

- ``WEB_IDLE_MINUTES`` (env ``CIRCLES_IDLE_MINUTES``, default 15): idle sign-out.
- ``WEB_SECURE_COOKIES``: cookies only over HTTPS. On unless testing, in the demo, or
  ``CIRCLES_INSECURE_COOKIES=1`` (a clinic trying it over plain http on one machine).
- ``CLINIC_TIMEZONE`` (env ``CIRCLES_CLINIC_TIMEZONE``, default UTC): where a week starts.
- ``SIGNIN_ACCOUNT_LIMIT`` / ``SIGNIN_ADDRESS_LIMIT`` failed sign-ins per
  ``SIGNIN_WINDOW_MINUTES`` (5 / 20 per 15) before that account or address must wait.
- ``TRUSTED_PROXIES`` (env ``CIRCLES_TRUSTED_PROXIES``, default 0): behind that many reverse
  proxies, the client's address (for throttling) and scheme come from X-Forwarded-For/-Proto;
  without it, every sign-in behind one proxy would count against the proxy's address.
"""

from __future__ import annotations

import os

from flask import Flask, Response, g, request
from werkzeug.wrappers import Response as BaseResponse

from service.web.pages import CSRF_COOKIE, PageRefusal, cookie_options, render

# Pages answer HTML; these are the paths they own (the JSON API keeps every other path).
PAGE_PREFIXES = ("/home", "/sign-in", "/sign-out", "/account", "/admin/", "/my/", "/web/")


def register(app: Flask) -> None:
    from service.web import (
        admin,
        auth,
        billing,
        coordinator,
        enrollments,
        feed_links,
        invitee,
        my_invitations,
        patient_link,
        plans,
        session_guests,
        sessions,
        therapist,
        week_calendar,
    )

    app.config.setdefault("WEB_IDLE_MINUTES", float(os.environ.get("CIRCLES_IDLE_MINUTES", 15)))
    app.config.setdefault(
        "WEB_SECURE_COOKIES",
        not app.testing and os.environ.get("CIRCLES_INSECURE_COOKIES") != "1",
    )
    app.config.setdefault(
        "CLINIC_TIMEZONE", os.environ.get("CIRCLES_CLINIC_TIMEZONE", "UTC") or "UTC"
    )
    app.config.setdefault("SIGNIN_ACCOUNT_LIMIT", 5)
    app.config.setdefault("SIGNIN_ADDRESS_LIMIT", 20)
    app.config.setdefault("SIGNIN_WINDOW_MINUTES", 15)
    app.config.setdefault("TRUSTED_PROXIES", int(os.environ.get("CIRCLES_TRUSTED_PROXIES", 0)))
    modules = (
        auth,
        admin,
        therapist,
        coordinator,
        feed_links,
        my_invitations,
        plans,
        enrollments,
        sessions,
        session_guests,
        week_calendar,
        invitee,
        patient_link,
        billing,
    )
    for module in modules:
        app.register_blueprint(module.bp)
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    @app.errorhandler(PageRefusal)
    def _refused(error: PageRefusal) -> BaseResponse:
        return render("web/error.html", status=error.status, title=error.title, detail=error.detail)

    @app.after_request
    def _page_headers(response: Response) -> Response:
        if not serves_page():
            return response
        new_csrf = g.get("new_csrf")
        if new_csrf:
            response.set_cookie(CSRF_COOKIE, new_csrf, **{**cookie_options(), "samesite": "Strict"})
        # Content-Security-Policy and the other security headers: service.headers.
        if not request.path.startswith("/web/static/"):
            # Pages show patients' names: never kept by the browser or a proxy.
            response.headers["Cache-Control"] = "no-store"
        return response


def is_page(path: str) -> bool:
    """Whether ``path`` is a page (HTML) rather than part of the JSON API."""
    return path == "/" or path.startswith(PAGE_PREFIXES)


def serves_page() -> bool:
    """Whether this response is a page: under a page's path, or a private link's page
    (``/i/{token}``, ``/feeds/{token}``: see ``service.web.token_pages``)."""
    return is_page(request.path) or bool(g.get("token_page"))
