"""Flask CLI commands: ``create-api-key``, ``create-staff-user``, ``load-demo``, ``run-demo``,
``run-projections``, ``send-messages``, ``export-events``, ``import-events``; ``views …``
(service.cli_views)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app

from projections.rebuild import ProgressBar
from service.context import fresh_views, services
from service.keys_and_idempotency import ROLES

# Demo staff who sign in to the pages: (email, name, role, therapist id).
DEMO_USERS = [
    ("coordinator@demo.clinic", "Demo coordinator", "coordinator", None),
    ("ana@demo.clinic", "Demo therapist Ana", "therapist", "t-ana"),
    ("billing@demo.clinic", "Demo billing", "billing", None),
    ("admin@demo.clinic", "Demo admin", "admin", None),
]
DEMO_KEYS = [
    ("coordinator", "Demo coordinator", None),
    ("therapist", "Demo therapist Ana", "t-ana"),
    ("billing", "Demo billing", None),
    ("admin", "Demo admin", None),
]


def register(app: Flask) -> None:
    from service import cli_views

    cli_views.register(app)

    @app.cli.command("create-api-key")
    @click.option("--role", type=click.Choice(ROLES), required=True)
    @click.option("--name", required=True, help="Who holds the key, e.g. 'Dana (front desk)'.")
    @click.option("--therapist-id", default=None, help="Required for a therapist key.")
    def create_api_key(role: str, name: str, therapist_id: str | None) -> None:
        """Create a staff API key and print it (only the key) on stdout."""
        try:
            plain, _ = services().storage.create_key(role, name, therapist_id)
        except ValueError as error:
            raise click.UsageError(str(error)) from None
        click.echo(plain)

    @app.cli.command("create-staff-user")
    @click.option("--email", required=True, help="What the person signs in with.")
    @click.option("--name", required=True, help="Their name, as events show who acted.")
    @click.option("--role", type=click.Choice(ROLES), required=True)
    @click.option("--therapist-id", default=None, help="Required for a therapist.")
    @click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of stdin (for scripts).",
    )
    @click.option(
        "--generate-password",
        is_flag=True,
        help="Make a one-time password and print it once; it must be changed at first sign-in.",
    )
    def create_staff_user(
        email: str,
        name: str,
        role: str,
        therapist_id: str | None,
        password_stdin: bool,
        generate_password: bool,
    ) -> None:
        """Create a staff account for the pages. Without a flag, the password is prompted for
        (twice, not echoed)."""
        from service.staff import StaffUserError
        from service.staff import generate_password as make_password

        if password_stdin and generate_password:
            raise click.UsageError("use --password-stdin or --generate-password, not both")
        if generate_password:
            password = make_password()
        elif password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        found = services()
        try:
            user = found.storage.staff.create(
                email, name, role, password, found.clock(), therapist_id,
                must_change_password=generate_password,
            )  # fmt: skip
        except StaffUserError as error:
            raise click.UsageError(f"--{error.field.replace('_', '-')}: {error}") from None
        click.echo(f"Created {user.role} {user.email} ({user.name}).", err=True)
        if generate_password:
            click.echo(password)

    @app.cli.command("load-demo")
    def load_demo_command() -> None:
        """Load the demo clinic (once) and print a staff key for each role."""
        _load_demo_and_keys()

    @app.cli.command("run-demo")
    @click.option("--host", default="127.0.0.1")
    @click.option("--port", default=5000, type=int)
    def run_demo(host: str, port: int) -> None:
        """Load the demo clinic if the store is empty, print keys and sign-ins, and serve the
        pages and the API (over plain http: the cookies are not marked Secure here)."""
        from werkzeug.serving import run_simple

        _load_demo_and_keys()
        current_app.config["WEB_SECURE_COOKIES"] = False
        if not os.environ.get("CIRCLES_CLINIC_TIMEZONE"):
            from service.demo import TZ

            current_app.config["CLINIC_TIMEZONE"] = TZ  # the demo clinic's weeks
        from service.mail import mailer

        # The embedded demo delivers its own messages (as .eml files unless SMTP_URL is set).
        worker = mailer()
        threading.Thread(
            target=worker.run_forever, args=(threading.Event(),), name="mailer", daemon=True
        ).start()
        click.echo(f"Messages: {worker.sender}")
        click.echo(f"\nServing on http://{host}:{port}/  (sign in there; API docs: /docs)")
        click.echo(
            f"Try: curl -H 'Authorization: Bearer <coordinator key>' http://{host}:{port}/groups"
        )
        run_simple(host, port, current_app._get_current_object(), threaded=True)  # type: ignore[attr-defined]

    @app.cli.command("run-projections")
    def run_projections() -> None:
        """The projection worker: keep every view caught up, and deliver the messages (as
        ``send-messages`` does), until stopped (SIGTERM/SIGINT)."""
        stop = threading.Event()

        def _stop(*_: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        from service.mail import mailer

        # The same worker delivers the messages (SPEC §9), in a thread of its own.
        mail = threading.Thread(
            target=mailer().run_forever, args=(stop,), name="mailer", daemon=True
        )
        mail.start()
        click.echo("projection worker running (and the mail worker)", err=True)
        try:
            services().require_reads().projector.run_forever(stop)
        finally:
            stop.set()
            mail.join(timeout=30)

    @app.cli.command("send-messages")
    @click.option("--once", is_flag=True, help="Fill and try every due message once, then exit.")
    def send_messages(once: bool) -> None:
        """The mail worker (SPEC §9): fill the outbox from the events and deliver it
        (SMTP_URL, else .eml files under var/outbox/) until stopped (SIGTERM/SIGINT)."""
        from service.mail import mailer

        worker = mailer()
        if once:
            click.echo(f"tried {worker.run_once()} message(s)", err=True)
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        click.echo(f"mail worker running ({type(worker.sender).__name__})", err=True)
        worker.run_forever(stop)

    @app.cli.command("export-events")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    def export_events_command(file: Path) -> None:
        """Write the event log (decrypted) to FILE as JSON lines, with count and checksum."""
        from service.migration import export_events

        bar = ProgressBar()
        try:
            summary = export_events(services().circles, file, bar)
        except FileExistsError:
            raise click.UsageError(f"{file} exists; choose a new file") from None
        finally:
            bar.close()
        click.echo(f"exported {summary.count:,} events, sha256 {summary.sha256}")

    @app.cli.command("import-events")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_events_command(file: Path) -> None:
        """Append FILE's events to this (empty) store, encrypted as configured; verify."""
        from service.migration import MigrationError, import_events

        bar = ProgressBar()
        try:
            summary = import_events(services().circles, file, bar)
        except MigrationError as error:
            raise click.ClickException(str(error)) from None
        finally:
            bar.close()
        click.echo(
            f"imported and verified {summary.count:,} events, sha256 {summary.sha256}; "
            "views: run the worker or `python -m projections.rebuild`"
        )


def _load_demo_and_keys() -> None:
    from service.demo import load_demo

    found = services()
    if found.circles.recorder.max_notification_id():
        click.echo("The store already has data; demo data not loaded again.")
    else:
        summary = load_demo(found.circles)
        fresh_views()
        click.echo(
            f"Loaded the demo clinic: {summary['groups']} groups, {summary['patients']} "
            f"patients, {summary['attendance_records']} attendance records."
        )
    click.echo("Staff API keys (send as 'Authorization: Bearer <key>'):")
    for role, name, therapist_id in DEMO_KEYS:
        plain, _ = found.storage.create_key(role, name, therapist_id)
        click.echo(f"  {role:<12} {plain}")
    click.echo("Staff sign-ins for the pages (email and password; new passwords on each run):")
    for email, name, role, therapist_id in DEMO_USERS:
        password = _demo_password(email, name, role, therapist_id)
        click.echo(f"  {role:<12} {email:<26} {password}")


def _demo_password(email: str, name: str, role: str, therapist_id: str | None) -> str:
    """A fresh password for a demo account, creating the account the first time."""
    from service.staff import generate_password

    found = services()
    staff = found.storage.staff
    password = generate_password()
    user = staff.by_email(email)
    if user is None:
        staff.create(email, name, role, password, found.clock(), therapist_id)
    else:
        staff.set_password(user.id, password, must_change=False)
        staff.set_disabled(user.id, False, found.clock())
    return password
