"""Flask CLI commands: ``create-api-key`` and ``load-demo``."""

from __future__ import annotations

import click
from flask import Flask

from service.context import services
from service.storage import ROLES


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
