"""What every page shares: who is signed in, the CSRF check, rendering, and problems in words.

A page is a plain Flask view wrapped in ``@page(roles=...)``. The wrapper finds the browser
session from its cookie (ending it after the idle time), checks the role and — on POST —
the CSRF token, and leaves the signed-in person in ``g.user``: the actor of whatever the
page does, as an API key's holder is for JSON.

How a page does something (see ``therapist.attendance``):

1. Translate the form into the JSON route's body, then
   ``invoke(routes.x.handler, current_user(), body=..., expected_version=..., **path)``:
   the route's own role check, marshmallow schema and handler — no rule lives here.
2. On ``REFUSALS`` take ``problem_of(error)``: the very problem+json a JSON client gets,
   as a ``FormProblem``. Show it with the ``summary`` macro at the top and ``field_error``
   beside fields (``problem.for_field(name)``), re-rendering the form with what was sent.
3. On success, ``notice(...)`` and redirect (the notice shows on the next page).

Templates extend ``web/base.html`` and import ``csrf`` (every form) from ``web/problem.html``
``with context``.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Response, current_app, g, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response as BaseResponse

from domain.bounds import EARLIEST_DATE, LATEST_DATE, date_within_bounds
from domain.errors import DomainError, InvalidInputError
from service.context import services
from service.errors import ApiError, domain_problem, problem, validation_problem
from service.staff import BrowserSession, StaffAccounts, StaffUser

SESSION_COOKIE = "circles_session"
CSRF_COOKIE = "circles_csrf"
CSRF_FIELD = "csrf_token"

# Each role's pages, in nav order: (endpoint, label).
NAV: dict[str, list[tuple[str, str]]] = {
    "therapist": [
        ("web_therapist.week", "My sessions"),
        ("web_approvals.invitations", "Invitations"),
        ("web_feeds.my_link", "My calendar link"),
    ],
    "coordinator": [
        ("web_coord.week", "This week"),
        ("web_coord.groups", "Groups"),
        ("web_calendar.calendar", "Week calendar"),
        ("web_feeds.links", "Calendar links"),
        ("web_billing.costs", "Costs"),
    ],
    "billing": [
        ("web_billing.costs", "Cost report"),
        ("web_billing.statements", "Statements"),
        ("web_billing.month_close", "Month close"),
    ],
    "admin": [("web_admin.staff", "Staff accounts")],
}


# The layout's other links (``layout_urls``).
LAYOUT_ENDPOINTS = ("web_auth.sign_in", "web_auth.account", "web_auth.sign_out")


class PageRefusal(Exception):
    """Stop a page with an error page (status and words), e.g. a refused CSRF token."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


@dataclass
class FormProblem:
    """A problem+json body, as a page shows it: a summary on top, messages per field."""

    title: str
    detail: str
    status: int
    fields: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def for_field(self, name: str) -> list[str]:
        return self.fields.get(name, [])


def problem_of(error: Exception) -> FormProblem:
    """Exactly the problem a JSON client would get for ``error``, for a page to show."""
    if isinstance(error, ApiError):
        response = problem(error.status, error.detail, errors=error.errors, **error.extra)
    elif isinstance(error, DomainError):
        response = domain_problem(error)
    elif isinstance(error, ValidationError):
        response = validation_problem(error, "form")
    else:
        raise TypeError(f"not a refusal: {error!r}")
    body = json.loads(response.get_data())
    known = {"type", "title", "status", "detail", "errors"}
    return FormProblem(
        title=body["title"],
        detail=body["detail"][:1].upper() + body["detail"][1:],  # a sentence on a page
        status=body["status"],
        fields=body.get("errors") or {},
        extra={k: v for k, v in body.items() if k not in known},
    )


REFUSALS = (ApiError, DomainError, ValidationError)


def accounts() -> StaffAccounts:
    found: StaffAccounts = services().storage.staff
    return found


def now() -> datetime:
    return services().clock()


def asked_week(today: date) -> tuple[date, str | None]:
    """The Monday of the week ``?week=`` names (any day in it), or of ``today``'s week with a
    line saying why: a week outside the input bounds (SPEC §5) is not a week any session is in,
    and one at the ends of the calendar cannot even be computed."""
    asked = request.args.get("week", "")
    if not asked:
        return today - timedelta(days=today.weekday()), None
    try:
        day = date.fromisoformat(asked)
        monday = date_within_bounds(day - timedelta(days=day.weekday()), "week")
        date_within_bounds(monday + timedelta(days=7), "week")
    except (ValueError, OverflowError, InvalidInputError):
        shown = "".join(c for c in asked[:40] if c.isprintable())
        problem = (
            f"“{shown}” is not a date like {today.isoformat()} from {EARLIEST_DATE.year} to "
            f"{LATEST_DATE.year - 1}; showing this week."
        )
        return today - timedelta(days=today.weekday()), problem
    return monday, None


def idle_limit() -> timedelta:
    return timedelta(minutes=float(current_app.config["WEB_IDLE_MINUTES"]))


def current_user() -> StaffUser:
    user: StaffUser = g.user
    return user


def safe_next(target: str | None) -> str | None:
    """A same-site path to return to after signing in, or None."""
    if not target:
        return None
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target  # browsers read a backslash in a path as a slash
        or any(ord(c) < 32 for c in target)
    ):
        return None
    return target


def page(
    roles: tuple[str, ...] | None = None, allow_password_change_pending: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a complete sign-in (and one of ``roles`` if given); check CSRF on POST."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def handle(**path: Any) -> Any:
            token = request.cookies.get(SESSION_COOKIE)
            found = accounts().session(token, now(), idle_limit()) if token else None
            if not isinstance(found, BrowserSession):
                idle = found is not None and found.idle
                # Back to this page after signing in; a form sent too late is not saved,
                # and the sign-in page says so.
                target = request.full_path if request.method == "GET" else request.path
                ended = ("idle-unsaved" if request.method == "POST" else "idle") if idle else None
                response = redirect(url_for("web_auth.sign_in", ended=ended, next=target))
                if token is not None:
                    forget_session_cookie(response)
                return response
            if found.pending_totp:
                return redirect(url_for("web_auth.second_factor"))
            g.user, g.web_session, g.web_token = found.user, found, token
            if request.method == "POST":
                check_csrf(found.csrf)
            if found.user.must_change_password and not allow_password_change_pending:
                return redirect(url_for("web_auth.account"))
            if roles is not None and found.user.role not in roles:
                raise PageRefusal(
                    403,
                    "Not for your role",
                    f"This page is for {' or '.join(roles)} accounts; you are signed in as "
                    f"{found.user.role}.",
                )
            return view(**path)

        return handle

    return decorate


def check_csrf(expected: str | None) -> None:
    sent = request.form.get(CSRF_FIELD, "")
    if not expected or not sent or not hmac.compare_digest(sent, expected):
        raise PageRefusal(
            400,
            "The form could not be accepted",
            "This form was not sent from a page of this site, or it has expired. "
            "Go back, reload the page and send it again.",
        )


def anonymous_csrf() -> str:
    """The token for forms shown before sign-in (double-submit: cookie and hidden field)."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token or len(token) > 100:
        token = g.get("new_csrf") or secrets.token_urlsafe(32)
        g.new_csrf = token
    return token


def csrf_token() -> str:
    found: BrowserSession | None = g.get("web_session")
    return found.csrf if found is not None else anonymous_csrf()


def notice(text: str) -> None:
    """A message for the next page the signed-in person sees."""
    accounts().add_notice(g.web_token, text)
    g.notice_added = True


def render(template: str, status: int = 200, **context: Any) -> Response:
    user: StaffUser | None = g.get("user")
    notices: list[str] = []
    token, found = g.get("web_token"), g.get("web_session")
    # Read only if the session had notices when the page began, or this request added one.
    if token and (found is None or found.has_notices or g.get("notice_added")):
        notices = accounts().take_notices(token)
    nav = NAV.get(user.role, []) if user is not None else []
    urls = layout_urls()
    current = context.get("nav_current") or request.endpoint
    html = render_template(
        template,
        user=user,
        nav=nav,
        layout=urls,
        nav_links=[(urls[endpoint], label, endpoint == current) for endpoint, label in nav],
        notices=notices,
        csrf_field=CSRF_FIELD,
        csrf_token=csrf_token(),
        **context,
    )
    return Response(html, status=status, mimetype="text/html")


def layout_urls() -> dict[str, str]:
    """The layout's links (the stylesheet, every role's nav, sign-in, account, sign-out), built
    once per app and script root: the same ``url_for`` on every page otherwise."""
    cache: dict[str, dict[str, str]] = current_app.extensions.setdefault("circles_layout_urls", {})
    found = cache.get(request.script_root)
    if found is None:
        found = {endpoint: url_for(endpoint) for links in NAV.values() for endpoint, _ in links}
        found |= {endpoint: url_for(endpoint) for endpoint in LAYOUT_ENDPOINTS}
        found["stylesheet"] = url_for("web_auth.static", filename="circles.css")
        cache[request.script_root] = found
    return found


_MARK = "0circlesid0"


def url_filler(endpoint: str, name: str) -> Callable[[Any], str]:
    """``url_for(endpoint, **{name: value})`` for the many ids a page links to: the route is
    built once per app and script root, then each (quoted) id is put in its place."""
    cache: dict[tuple[str, str, str], str] = current_app.extensions.setdefault(
        "circles_url_fillers", {}
    )
    key = (request.script_root, endpoint, name)
    built = cache.get(key)
    if built is None:
        values: dict[str, Any] = {name: _MARK}
        built = cache[key] = url_for(endpoint, **values)
    return lambda value: built.replace(_MARK, quote(str(value), safe=""))


def cookie_options() -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "Lax",
        "secure": bool(current_app.config["WEB_SECURE_COOKIES"]),
        "path": "/",
    }


def set_session_cookie(response: BaseResponse, token: str) -> None:
    # No max_age: the cookie ends with the browser; the server ends it after idle time.
    response.set_cookie(SESSION_COOKIE, token, **cookie_options())


def forget_session_cookie(response: BaseResponse) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def client_address() -> str:
    """The address failed sign-ins are counted against (the proxy's, unless configured)."""
    return request.remote_addr or "unknown"
