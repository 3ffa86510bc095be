"""The Circles application: every use case of SPEC §2 behind one object."""

from __future__ import annotations

from domain.commands.enrollments import EnrollmentCommands
from domain.commands.groups import GroupCommands
from domain.commands.invitations import InvitationCommands
from domain.commands.sessions import SessionCommands
from domain.commands.tokens import TokenCommands


class Circles(
    GroupCommands, SessionCommands, EnrollmentCommands, InvitationCommands, TokenCommands
):
    """Groups, sessions, enrollments, invitations and feed tokens, event-sourced.

    Every command takes the acting staff member as ``actor`` and records it on each event.
    Commands that touch several aggregates save them in one transaction and re-run from a
    fresh read on a concurrent conflict.
    """
