"""Closed groups (SPEC §2): a course closes to newcomers once its early sessions have met.

A group closes when its ``admission_closes_after``-th meeting has started: the sessions that
are not cancelled, in the order they meet (a make-up counts, a cancelled session does not).
After that, seating a patient — a new enrollment or a promotion from the waitlist — needs an
override with a recorded reason; without one the waitlist waits for the next group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from domain.errors import AdmissionClosedError, InvalidInputError
from domain.session import TherapySession
from domain.values import EnrollmentStatus, Modality

# The meeting after which newcomers are no longer admitted; None: the group never closes.
DEFAULT_ADMISSION_CLOSES_AFTER: dict[Modality, int | None] = {
    Modality.IPT: 2,
    Modality.MIT: 2,
    Modality.DIT: 2,
    Modality.MAINTENANCE: None,
}
MAX_ADMISSION_CLOSES_AFTER = 200


def admission_closes_after(value: Any) -> int | None:
    """A valid ``admission_closes_after`` setting: a meeting number, or None (never closes)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(
            f"admission_closes_after must be a whole number or null (got {value!r})",
            field="admission_closes_after",
        )
    if not 1 <= value <= MAX_ADMISSION_CLOSES_AFTER:
        raise InvalidInputError(
            f"admission_closes_after must be from 1 to {MAX_ADMISSION_CLOSES_AFTER} (got {value})",
            field="admission_closes_after",
        )
    return value


@dataclass(frozen=True)
class Admission:
    """Whether a group admits newcomers at a moment, and since when it does not."""

    closes_after: int | None
    closes_at: datetime | None  # start of the closing meeting, once it is planned
    closing_session_id: Any | None
    closed: bool

    def require_open_or_override(self, override_reason: str | None, doing: str) -> str | None:
        """The override reason to record, or None when admission is open.

        Raises ``AdmissionClosedError`` when the group is closed and no reason is given.
        """
        if not self.closed:
            return None
        if not override_reason:
            assert self.closes_at is not None
            raise AdmissionClosedError(
                f"cannot {doing}: the group closed to newcomers when meeting "
                f"{self.closes_after} started ({self.closes_at.isoformat()}); give an "
                "admission_override_reason to admit anyway",
                closes_at=self.closes_at.isoformat(),
            )
        return override_reason


# A group that admits newcomers: what a group that never closes always has.
OPEN_ADMISSION = Admission(None, None, None, False)


def admission(
    closes_after: int | None, sessions: Iterable[TherapySession], at: datetime
) -> Admission:
    """The admission state of a group with these sessions, at the moment ``at``."""
    if closes_after is None:
        return OPEN_ADMISSION
    meetings = sorted(
        (s for s in sessions if not s.is_cancelled), key=lambda s: (s.starts_at, s.number)
    )
    if len(meetings) < closes_after:
        return Admission(closes_after, None, None, False)
    closing = meetings[closes_after - 1]
    return Admission(closes_after, closing.starts_at, closing.id, at >= closing.starts_at)


class WaitingFor(Enum):
    """What a waitlisted patient waits for."""

    SEAT = "seat"  # promoted when a seat frees
    NEXT_GROUP = "next_group"  # the group has closed to newcomers


def waiting_for(status: EnrollmentStatus, admission: Admission) -> WaitingFor | None:
    """What a waitlisted patient waits for: a seat in this group, or — once it has closed to
    newcomers — the next group. None for anyone not on the waitlist."""
    if status is not EnrollmentStatus.WAITLISTED:
        return None
    return WaitingFor.NEXT_GROUP if admission.closed else WaitingFor.SEAT
