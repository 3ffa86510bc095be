"""Flask CLI commands: ``create-api-key``, ``load-demo``, ``run-demo``, ``run-projections``,
``export-events``, ``import-events``."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app

from projections.rebuild import ProgressBar
from service.context import services
from service.storage import ROLES

DEMO_KEYS = [
    ("coordinator", "Demo coordinator", None),
    ("therapist", "Demo therapist Ana", "t-ana"),
    ("billing", "Demo billing", None),
    ("admin", "Demo admin", None),
]


def register(app: Flask) -> None:
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

    @app.cli.command("load-demo")
    def load_demo_command() -> None:
        """Load the demo clinic (once) and print a staff key for each role."""
        _load_demo_and_keys()

    @app.cli.command("run-demo")
    @click.option("--host", default="127.0.0.1")
    @click.option("--port", default=5000, type=int)
    def run_demo(host: str, port: int) -> None:
        """Load the demo clinic if the store is empty, print keys, and serve the API."""
        from werkzeug.serving import run_simple

        _load_demo_and_keys()
        click.echo(f"\nServing on http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
        click.echo(
            f"Try: curl -H 'Authorization: Bearer <coordinator key>' http://{host}:{port}/groups"
        )
        run_simple(host, port, current_app._get_current_object(), threaded=True)  # type: ignore[attr-defined]

    @app.cli.command("run-projections")
    def run_projections() -> None:
        """The projection worker: keep every view caught up until stopped (SIGTERM/SIGINT)."""
        stop = threading.Event()

        def _stop(*_: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        click.echo("projection worker running", err=True)
        services().require_reads().projector.run_forever(stop)

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
        found.require_reads().fresh()
        click.echo(
            f"Loaded the demo clinic: {summary['groups']} groups, {summary['patients']} "
            f"patients, {summary['attendance_records']} attendance records."
        )
    click.echo("Staff API keys (send as 'Authorization: Bearer <key>'):")
    for role, name, therapist_id in DEMO_KEYS:
        plain, _ = found.storage.create_key(role, name, therapist_id)
        click.echo(f"  {role:<12} {plain}")
