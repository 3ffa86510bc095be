"""Course-length and size rules per modality (SPEC §2)."""

from __future__ import annotations

from datetime import datetime

from dateutil.relativedelta import relativedelta

from domain.errors import CourseLengthError, InvalidInputError
from domain.values import Modality, instant

# modality -> (fewest, most) course sessions; None: open-ended.
COURSE_LENGTH: dict[Modality, tuple[int, int] | None] = {
    Modality.IPT: (12, 16),
    Modality.MIT: (12, 16),
    Modality.DIT: (16, 16),
    Modality.MAINTENANCE: None,
}
DIT_WINDOW = relativedelta(months=5)


def check_sizes(max_size: int, min_size: int, guest_limit: int) -> None:
    for name, value, low, high in (
        ("max_size", max_size, 1, 50),
        ("min_size", min_size, 1, 50),
        ("guest_limit", guest_limit, 0, 10),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInputError(
                f"{name} must be a whole number from {low} to {high} (got {value!r})", field=name
            )
    if max_size < min_size:
        raise InvalidInputError(
            f"max_size ({max_size}) cannot be smaller than min_size ({min_size})",
            field="max_size",
        )


def _bounds_text(modality: Modality) -> str:
    bounds = COURSE_LENGTH[modality]
    assert bounds is not None
    low, high = bounds
    return f"exactly {low}" if low == high else f"{low}–{high}"


def check_plan_length(modality: Modality, course_sessions: int, override: str | None) -> None:
    """Refuse a plan that would take the course past its upper bound, unless overridden."""
    bounds = COURSE_LENGTH[modality]
    if bounds is None or override:
        return
    if course_sessions > bounds[1]:
        raise CourseLengthError(
            f"a {modality.value} course has {_bounds_text(modality)} sessions; this plan would "
            f"make {course_sessions}. Record a length_override_reason on the group to exceed it."
        )


def check_course_can_start(modality: Modality, course_sessions: int, override: str | None) -> None:
    """A course starts only with its full length planned, unless overridden."""
    bounds = COURSE_LENGTH[modality]
    if bounds is None or override:
        return
    if not bounds[0] <= course_sessions <= bounds[1]:
        raise CourseLengthError(
            f"a {modality.value} course has {_bounds_text(modality)} sessions; "
            f"{course_sessions} are planned. Plan the rest or record a length_override_reason."
        )


def check_dit_window(starts: list[datetime], override: str | None) -> None:
    """DIT: every session within five months of the first."""
    if override or not starts:
        return
    first = min(starts, key=instant)
    last = max(starts, key=instant)
    if last > first + DIT_WINDOW:
        raise CourseLengthError(
            f"dynamic interpersonal therapy sessions must all fall within 5 months of the first "
            f"({first:%Y-%m-%d}); {last:%Y-%m-%d} is later. Record a length_override_reason "
            "to allow it."
        )
