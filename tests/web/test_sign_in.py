"""Signing in and out through the pages: cookies, CSRF, throttling, idle sign-out, codes."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp

from projections.store import StoreSettings
from service import create_app
from tests.conftest import Clock
from tests.service.conftest import FAST_HASHER
from tests.web.conftest import PASSWORD, Site, csrf_of


def clock_now() -> datetime:
    return datetime.now(UTC)


def test_sign_in_lands_on_the_home_page_with_a_safe_cookie(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator", name="Dana Reyes")
    browser = site.browser()
    assert "Sign in" in browser.text("/")
    r = browser.sign_in("Dana@Clinic.example")
    assert r.status_code == 302 and r.headers["Location"] == "/home"
    cookie = next(c for c in r.headers.getlist("Set-Cookie") if c.startswith("circles_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the test app; see the next test for a real one
    home = browser.text("/home")
    assert "<h1>This week</h1>" in home and "Dana Reyes" in home and "(coordinator)" in home
    r = browser.get("/")  # signed in: the sign-in page sends you home
    assert r.status_code == 302 and r.headers["Location"] == "/home"
    headers = browser.get("/home").headers
    assert headers["Cache-Control"] == "no-store"
    policy = headers["Content-Security-Policy"]
    assert "form-action 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_outside_tests_cookies_are_secure_and_hashes_memory_hard(store: StoreSettings) -> None:
    app = create_app({"STORE": store})
    try:
        r = app.test_client().get("/")
        assert "Secure" in r.headers["Set-Cookie"]
        assert app.config["WEB_SECURE_COOKIES"] is True
        staff = app.extensions["circles"].storage.staff
        user = staff.create("dana@clinic.example", "Dana", "coordinator", PASSWORD, clock_now())
        with staff._db.connect(write=False) as conn:
            (stored,) = conn.execute(
                "SELECT password_hash FROM circles_staff_users WHERE id = ?", (user.id,)
            ).fetchone()
        assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # RFC 9106, 64 MiB
        assert PASSWORD not in stored
    finally:
        app.extensions["circles"].close()


def test_wrong_password_says_so_and_keeps_the_email(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator")
    browser = site.browser()
    r = browser.sign_in("dana@clinic.example", "not the password")
    assert r.status_code == 401
    page = r.get_data(as_text=True)
    assert "do not match an active account" in page
    assert 'value="dana@clinic.example"' in page
    assert browser.get("/home").status_code == 302  # still not signed in
    r = browser.sign_in("nobody@clinic.example", PASSWORD)
    assert r.status_code == 401  # an unknown account reads the same


def test_forms_without_their_token_are_refused(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator")
    browser = site.browser()
    r = browser.client.post("/", data={"email": "dana@clinic.example", "password": PASSWORD})
    assert r.status_code == 400 and "not sent from a page of this site" in r.get_data(as_text=True)
    browser.sign_in("dana@clinic.example")
    r = browser.client.post("/sign-out", data={"csrf_token": "forged"})
    assert r.status_code == 400
    assert browser.get("/home").status_code == 200  # the forged sign-out did nothing
    r = browser.submit("/home", "/sign-out")
    assert r.status_code == 302 and r.headers["Location"] == "/?ended=out"
    assert browser.get("/home").status_code == 302


def test_sign_out_ends_the_session_on_the_server(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator")
    browser = site.signed_in("dana@clinic.example")
    stolen = browser.client.get_cookie("circles_session")
    assert stolen is not None
    browser.submit("/home", "/sign-out")
    other = site.browser()
    other.client.set_cookie("circles_session", stolen.value)
    assert other.get("/home").status_code == 302  # a copied cookie no longer works


def test_failed_sign_ins_are_throttled_per_account(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator")
    browser = site.browser()
    for _ in range(5):
        assert browser.sign_in("dana@clinic.example", "guess").status_code == 401
    r = browser.sign_in("dana@clinic.example")  # even the right password waits
    assert r.status_code == 429
    assert "Too many failed sign-ins. Wait 15 minutes" in r.get_data(as_text=True)
    site.clock.advance(minutes=10)
    assert browser.sign_in("dana@clinic.example").status_code == 429
    site.clock.advance(minutes=5, seconds=1)
    assert browser.sign_in("dana@clinic.example").status_code == 302


def test_failed_sign_ins_are_throttled_per_address(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator")
    browser = site.browser()
    for n in range(20):  # a different account each time: no one account is throttled
        assert browser.sign_in(f"guess{n}@clinic.example", "guess").status_code == 401
    assert browser.sign_in("dana@clinic.example").status_code == 429
    site.clock.advance(minutes=16)
    assert browser.sign_in("dana@clinic.example").status_code == 302


def test_idle_sign_out_after_fifteen_minutes(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator")
    browser = site.signed_in("dana@clinic.example")
    site.clock.advance(minutes=14)
    assert browser.get("/home").status_code == 200  # activity keeps it alive
    site.clock.advance(minutes=14)
    assert browser.get("/home").status_code == 200
    site.clock.advance(minutes=15)
    r = browser.get("/home")
    assert r.status_code == 302 and r.headers["Location"].startswith("/?ended=idle")
    assert "signed out after a time without activity" in browser.text("/?ended=idle")
    assert browser.get("/home").status_code == 302

    browser = site.signed_in("dana@clinic.example")
    token = csrf_of(browser.get("/account"))
    site.clock.advance(minutes=15)
    r = browser.client.post("/account", data={"csrf_token": token})  # sent too late
    assert r.headers["Location"] == "/?ended=idle-unsaved&next=/account"
    assert "what you just sent was not saved" in browser.text(r.headers["Location"])


def test_the_idle_time_is_configurable(durable_store: StoreSettings, clock: Clock) -> None:
    app = create_app(
        {
            "STORE": durable_store,
            "CLOCK": clock,
            "TESTING": True,
            "WEB_IDLE_MINUTES": 5,
            "PASSWORD_HASHER": FAST_HASHER,
        }
    )
    try:
        app.extensions["circles"].storage.staff.create(
            "dana@clinic.example", "Dana", "coordinator", PASSWORD, clock()
        )
        client = app.test_client()
        token = csrf_of(client.get("/"))
        client.post("/", data={"csrf_token": token, "email": "dana@clinic.example",
                               "password": PASSWORD})  # fmt: skip
        clock.advance(minutes=5)
        assert client.get("/home").status_code == 302
    finally:
        app.extensions["circles"].close()


def test_totp_turned_on_is_asked_for_at_sign_in(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator")
    browser = site.signed_in("dana@clinic.example")
    page = browser.text("/account/two-factor")
    secret = page.split('name="secret" value="')[1].split('"')[0]
    r = browser.submit("/account/two-factor", secret=secret, code="000000", action="on")
    assert r.status_code == 422 and "does not match" in r.get_data(as_text=True)
    code = pyotp.TOTP(secret).at(site.clock())
    r = browser.submit("/account/two-factor", secret=secret, code=code, action="on")
    assert r.status_code == 302
    assert "asks for a code" in browser.text("/account")
    browser.submit("/home", "/sign-out")

    r = browser.sign_in("dana@clinic.example")
    assert r.headers["Location"].startswith("/sign-in/code")
    assert browser.get("/home").headers["Location"] == "/sign-in/code"  # not in yet
    r = browser.submit("/sign-in/code", code="123456")
    assert r.status_code == 401 and "code is not right" in r.get_data(as_text=True)
    r = browser.submit("/sign-in/code", code=pyotp.TOTP(secret).at(site.clock()))
    assert r.status_code == 302 and r.headers["Location"] == "/home"
    assert browser.get("/home").status_code == 200


def test_cli_creates_a_staff_user(site: Site) -> None:
    runner = site.api.app.test_cli_runner()
    r = runner.invoke(
        args=["create-staff-user", "--email", "ana@clinic.example", "--name", "Ana",
              "--role", "therapist", "--therapist-id", "t-ana", "--password-stdin"],
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert site.browser().sign_in("ana@clinic.example").headers["Location"] == "/my/week"
    r = runner.invoke(
        args=["create-staff-user", "--email", "bo@clinic.example", "--name", "Bo",
              "--role", "billing", "--generate-password"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    password = r.stdout.strip().splitlines()[-1]
    browser = site.browser()
    assert browser.sign_in("bo@clinic.example", password).status_code == 302
    assert browser.get("/home").headers["Location"] == "/account"  # must choose a password
    r = runner.invoke(
        args=["create-staff-user", "--email", "ana@clinic.example", "--name", "Ana 2",
              "--role", "coordinator", "--password-stdin"],
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert r.exit_code != 0 and "already an account" in r.output
    r = runner.invoke(
        args=["create-staff-user", "--email", "x@clinic.example", "--name", "X",
              "--role", "therapist", "--password-stdin"],
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert r.exit_code != 0 and "--therapist-id" in r.output
    r = runner.invoke(
        args=["create-staff-user", "--email", "y@clinic.example", "--name", "Y",
              "--role", "admin", "--password-stdin"],
        input="short\n",
    )  # fmt: skip
    assert r.exit_code != 0 and "at least 12" in r.output


def test_the_demo_prints_staff_sign_ins_that_work(site: Site) -> None:
    runner = site.api.app.test_cli_runner()
    r = runner.invoke(args=["load-demo"])
    assert r.exit_code == 0, r.output
    assert "Staff sign-ins for the pages" in r.output
    lines = {line.split()[0]: line.split() for line in r.output.splitlines() if "@demo." in line}
    assert set(lines) == {"coordinator", "therapist", "billing", "admin"}
    _, email, password = lines["therapist"]
    browser = site.browser()
    assert browser.sign_in(email, password).headers["Location"] == "/my/week"
    assert "Demo therapist Ana" in browser.text("/my/week")
    again = runner.invoke(args=["load-demo"])  # a second run: new passwords, same accounts
    _, email, new_password = next(
        line.split() for line in again.output.splitlines() if "ana@demo." in line
    )
    assert new_password != password
    assert site.browser().sign_in(email, new_password).status_code == 302


def test_after_sign_in_only_same_site_paths_are_followed(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator")
    for target, expected in [
        ("/account", "/account"),
        ("https://evil.example/", "/home"),
        ("//evil.example/", "/home"),
        ("/\\evil.example/", "/home"),
        ("account", "/home"),
    ]:
        browser = site.browser()
        r = browser.submit(f"/?next={target}", "/", email="dana@clinic.example",
                           password=PASSWORD, next=target)  # fmt: skip
        assert r.headers["Location"] == expected, target


def test_behind_a_trusted_proxy_addresses_come_from_forwarded_for(
    durable_store: StoreSettings, clock: Clock
) -> None:
    app = create_app({"STORE": durable_store, "CLOCK": clock, "TESTING": True,
                      "TRUSTED_PROXIES": 1, "PASSWORD_HASHER": FAST_HASHER})  # fmt: skip
    try:
        staff = app.extensions["circles"].storage.staff
        staff.create("dana@clinic.example", "Dana", "coordinator", PASSWORD, clock())
        client = app.test_client()

        def attempt(address: str, email: str, password: str) -> int:
            token = csrf_of(client.get("/"))
            r = client.post("/", data={"csrf_token": token, "email": email,
                                       "password": password},
                            headers={"X-Forwarded-For": address})  # fmt: skip
            return r.status_code

        for n in range(20):
            assert attempt("203.0.113.7", f"guess{n}@clinic.example", "guess") == 401
        assert attempt("203.0.113.7", "dana@clinic.example", PASSWORD) == 429
        assert attempt("198.51.100.2", "dana@clinic.example", PASSWORD) == 302  # someone else
    finally:
        app.extensions["circles"].close()
