"""``flask --app service views …``: the operator's side of degraded views (SPEC §6).

``dead-letters`` lists the events a view skipped, ``retry-dead-letters`` replays the views
that have any once the cause is fixed (a deploy), ``rebuild`` rebuilds every view. The
last two exit non-zero while dead letters remain, so a script can tell.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from projections.deadletters import DeadLetter
from projections.rebuild import ProgressBar, rebuild
from projections.runner import Projector
from service.context import services

views = AppGroup("views", help="Inspect and repair the read models (views).")


def _projector() -> Projector:
    projector: Projector = services().require_reads().projector
    return projector


def _echo(letters: list[DeadLetter]) -> None:
    for x in letters:
        click.echo(
            f"{x.notification_id}\t{x.view}\t{x.topic}\t{x.error_type}\t"
            f"{x.recorded_at.isoformat(timespec='seconds')}\t{x.summary}"
        )


def _remaining(letters: list[DeadLetter]) -> None:
    if letters:
        _echo(letters)
        degraded = ", ".join(sorted({x.view for x in letters}))
        raise click.ClickException(
            f"{len(letters)} dead letter(s) remain; still degraded: {degraded}"
        )
    click.echo("no dead letters: every view applied every event", err=True)


@views.command("dead-letters")
def dead_letters() -> None:
    """List the events a view skipped: event id, view, type, error, when, where raised."""
    letters = _projector().dead_letters()
    if not letters:
        click.echo("no dead letters: every view applied every event", err=True)
        return
    _echo(letters)


@views.command("retry-dead-letters")
def retry_dead_letters() -> None:
    """Replay the views that have dead letters (and the views they read) from the first
    event; clears the letters that now apply, lists those that still fail."""
    families, left = _projector().retry_dead_letters()
    if families:
        click.echo(f"replayed: {', '.join(families)}", err=True)
    _remaining(left)


@views.command("rebuild")
@click.option("--restart", is_flag=True, help="Start over even if a rebuild was interrupted.")
@click.option("--batch-size", type=int, default=None, help="Events per transaction.")
def rebuild_views(restart: bool, batch_size: int | None) -> None:
    """Rebuild every view from the first event (resumes an interrupted rebuild)."""
    found = services()
    bar = ProgressBar()
    try:
        position = rebuild(found.circles, found.settings, bar, batch_size, restart)
    finally:
        bar.close()
    click.echo(f"views rebuilt up to event {position:,}", err=True)
    _remaining(_projector().dead_letters())


def register(app: Flask) -> None:
    app.cli.add_command(views)
