"""Domain errors. Each says, in words a coordinator understands, what went wrong.

The service maps each family to one HTTP status in one place; the domain only
chooses the family.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every rule the domain refuses to break."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInputError(DomainError):
    """A value is malformed or out of range (a field-level problem)."""

    def __init__(self, message: str, field: str | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.field = field


class NotFoundError(DomainError):
    """The group, session, enrollment or invitation does not exist."""


class ConflictError(DomainError):
    """The request is well formed but the current state does not allow it."""


class WrongStateError(ConflictError):
    """The aggregate is not in a state where this command makes sense."""


class CapacityError(ConflictError):
    """A limit (group size, guest limit) would be exceeded."""


class AdmissionClosedError(ConflictError):
    """The group is closed to newcomers and no admission override reason was given."""


class DuplicateError(ConflictError):
    """The thing already exists (e.g. the patient is already in the group)."""


class OverlapError(ConflictError):
    """A therapist or room would be double booked."""

    def __init__(self, message: str, colliding_session_id: str, **details: Any) -> None:
        super().__init__(message, colliding_session_id=colliding_session_id, **details)
        self.colliding_session_id = colliding_session_id


class CourseLengthError(ConflictError):
    """The plan breaks the modality's course-length rule."""


class NotPermittedError(DomainError):
    """The actor is not allowed to do this (e.g. approval by a non-facilitator)."""


class StaleVersionError(DomainError):
    """The client's expected version is not the aggregate's current version."""

    def __init__(self, message: str, current_version: int) -> None:
        super().__init__(message, current_version=current_version)
        self.current_version = current_version
