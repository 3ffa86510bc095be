"""Signing in and out, the second factor, the home page and one's own account."""

from __future__ import annotations

import math
from datetime import timedelta

import pyotp
from flask import Blueprint, current_app, g, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from domain.bounds import is_plain_text
from service.staff import BrowserSession, StaffUserError, check_password
from service.web.pages import (
    SESSION_COOKIE,
    accounts,
    anonymous_csrf,
    check_csrf,
    client_address,
    current_user,
    forget_session_cookie,
    notice,
    now,
    page,
    render,
    safe_next,
    set_session_cookie,
)

bp = Blueprint(
    "web_auth",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/web/static",
)

ENDED = {
    "idle": "You were signed out after a time without activity. Sign in again to go on.",
    "idle-unsaved": "You were signed out after a time without activity, so what you just "
    "sent was not saved. Sign in again to go back to that page.",
    "out": "You are signed out.",
}
HOMES = {
    "therapist": "web_therapist.week",
    "admin": "web_admin.staff",
    "billing": "web_billing.costs",
}
TOTP_ISSUER = "Circles"


def _home_url(role: str) -> str:
    return url_for(HOMES.get(role, "web_auth.home"))


@bp.get("/")
def sign_in() -> BaseResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = accounts().session(token, now(), _idle())
        if isinstance(found, BrowserSession) and not found.pending_totp:
            return redirect(_home_url(found.user.role))
    message = ENDED.get(request.args.get("ended", ""))
    return _sign_in_form(message=message)


def _sign_in_form(
    status: int = 200, email: str = "", error: str | None = None, message: str | None = None
) -> BaseResponse:
    return render(
        "web/sign_in.html",
        status=status,
        email=email,
        error=error,
        message=message,
        next=safe_next(request.values.get("next")),
    )


def _idle() -> timedelta:
    return timedelta(minutes=float(current_app.config["WEB_IDLE_MINUTES"]))


def _throttled(email: str) -> int | None:
    """Minutes to wait if this account or address has failed too often lately, else None."""
    config = current_app.config
    window = timedelta(minutes=float(config["SIGNIN_WINDOW_MINUTES"]))
    moment = now()
    for scope, subject, limit in (
        ("account", email, int(config["SIGNIN_ACCOUNT_LIMIT"])),
        ("address", client_address(), int(config["SIGNIN_ADDRESS_LIMIT"])),
    ):
        failures = accounts().failures_since(scope, subject, moment - window)
        if len(failures) >= limit:
            # Free again once the oldest failure that counts leaves the window.
            wait = failures[-limit] + window - moment
            return max(1, math.ceil(wait.total_seconds() / 60))
    return None


def _failed(email: str) -> None:
    accounts().record_failure({"account": email, "address": client_address()}, now())


@bp.post("/")
def sign_in_submit() -> BaseResponse:
    check_csrf(anonymous_csrf())
    email = request.form.get("email", "").strip().lower()[:300]
    password = request.form.get("password", "")[:500]
    if not email or not password:
        return _sign_in_form(400, email, "Enter your email address and your password.")
    if not is_plain_text(email):
        # No account's address has one; and a NUL cannot even be looked up in PostgreSQL.
        return _sign_in_form(400, "", "An email address cannot contain control characters.")
    wait = _throttled(email)
    if wait is not None:
        return _sign_in_form(
            429,
            email,
            f"Too many failed sign-ins. Wait {wait} minute{'s' if wait != 1 else ''} "
            "and try again, or ask an administrator to reset your password.",
        )
    user = accounts().verify_password(email, password)
    if user is None:
        _failed(email)
        return _sign_in_form(
            401, email, "That email address and password do not match an active account."
        )
    accounts().clear_failures("account", email)
    token = accounts().start_session(user, now())
    target = safe_next(request.form.get("next"))
    if user.totp_enabled:
        response = redirect(url_for("web_auth.second_factor", next=target))
    else:
        response = redirect(target or _home_url(user.role))
    set_session_cookie(response, token)
    return response


@bp.route("/sign-in/code", methods=["GET", "POST"])
def second_factor() -> BaseResponse:
    token = request.cookies.get(SESSION_COOKIE, "")
    found = accounts().session(token, now(), _idle()) if token else None
    if not isinstance(found, BrowserSession):
        return redirect(url_for("web_auth.sign_in"))
    if not found.pending_totp:
        return redirect(_home_url(found.user.role))
    g.web_session = found
    if request.method == "GET":
        return render("web/second_factor.html", error=None)
    check_csrf(found.csrf)
    user = found.user
    wait = _throttled(user.email)
    if wait is not None:
        accounts().end_session(token)
        response = _sign_in_form(
            429, user.email, f"Too many failed sign-ins. Wait {wait} minutes and try again."
        )
        forget_session_cookie(response)
        return response
    code = "".join(request.form.get("code", "").split())[:12]
    secret = accounts().totp_secret(user.id)
    if secret is None or not pyotp.TOTP(secret).verify(code, for_time=now(), valid_window=1):
        _failed(user.email)
        return render(
            "web/second_factor.html",
            status=401,
            error="That code is not right. Enter the 6 digits your authenticator app shows now.",
        )
    accounts().clear_failures("account", user.email)
    fresh = accounts().second_factor_done(token)
    target = safe_next(request.args.get("next"))
    response = redirect(target or _home_url(user.role))
    set_session_cookie(response, fresh)
    return response


@bp.post("/sign-out")
@page(allow_password_change_pending=True)
def sign_out() -> BaseResponse:
    accounts().end_session(g.web_token)
    response = redirect(url_for("web_auth.sign_in", ended="out"))
    forget_session_cookie(response)
    return response


@bp.get("/home")
@page()
def home() -> BaseResponse:
    if current_user().role == "coordinator":
        from service.web.coordinator import week_page

        return week_page()  # a coordinator's home is this week across groups
    return render("web/home.html")


@bp.route("/account", methods=["GET", "POST"])
@page(allow_password_change_pending=True)
def account() -> BaseResponse:
    user = current_user()
    errors: dict[str, str] = {}
    if request.method == "POST":
        current = request.form.get("current_password", "")
        new = request.form.get("new_password", "")
        again = request.form.get("new_password_again", "")
        if accounts().verify_password(user.email, current) is None:
            errors["current_password"] = "This is not your current password."
        try:
            check_password(new)
        except StaffUserError as error:
            errors["new_password"] = str(error)
        if not errors and new != again:
            errors["new_password_again"] = "The two new passwords differ."
        if not errors and new == current:
            errors["new_password"] = "Choose a password different from the current one."
        if not errors:
            accounts().set_password(user.id, new, must_change=False)
            notice("Your password is changed.")
            return redirect(url_for("web_auth.account"))
    return render("web/account.html", status=422 if errors else 200, errors=errors)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@page()
def two_factor() -> BaseResponse:
    """Turn the authenticator-app code on (shown a new secret, confirmed by a code) or off."""
    user = current_user()
    if request.method == "GET":
        if user.totp_enabled:
            return render("web/two_factor.html", secret=None, uri=None, error=None)
        secret = pyotp.random_base32()
        return _two_factor_setup(secret, None)
    if request.form.get("action") == "off":
        if not _password_ok(user.email):
            return render(
                "web/two_factor.html",
                status=422,
                secret=None,
                uri=None,
                error="Enter your password to turn the code off.",
            )
        accounts().set_totp(user.id, None)
        notice("Sign-in no longer asks for a code.")
        return redirect(url_for("web_auth.account"))
    secret = request.form.get("secret", "")
    code = "".join(request.form.get("code", "").split())
    try:
        ok = len(secret) == 32 and pyotp.TOTP(secret).verify(code, for_time=now(), valid_window=1)
    except Exception:  # a tampered secret that is not base32
        ok = False
    if not ok:
        return _two_factor_setup(
            secret if len(secret) == 32 else pyotp.random_base32(),
            "That code does not match. Enter the 6 digits the app shows for Circles now.",
        )
    accounts().set_totp(user.id, secret)
    notice("From now on, signing in asks for a code from your authenticator app.")
    return redirect(url_for("web_auth.account"))


def _two_factor_setup(secret: str, error: str | None) -> BaseResponse:
    user = current_user()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render(
        "web/two_factor.html",
        status=422 if error else 200,
        secret=secret,
        grouped=grouped,
        uri=uri,
        error=error,
    )


def _password_ok(email: str) -> bool:
    return accounts().verify_password(email, request.form.get("password", "")) is not None
