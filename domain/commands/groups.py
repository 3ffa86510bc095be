"""Creating and running groups: settings, lifecycle, fees and capacity."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.admission import admission_closes_after as closes_after_setting
from domain.bounds import canonical_zone, clean_id, local_datetime
from domain.commands.base import CirclesBase, optional_reason, reason_text, retrying, text
from domain.course import check_sizes
from domain.enrollment import Enrollment
from domain.errors import InvalidInputError
from domain.group import DEFAULT_GUEST_LIMIT, DEFAULT_MAX_SIZE, DEFAULT_MIN_SIZE, TherapyGroup
from domain.schedule import ResourceDay
from domain.session import TherapySession
from domain.values import (
    FeeSchedule,
    Format,
    Modality,
    ProblemArea,
    SessionKind,
    parse_enum,
)

COURSE_KINDS = (SessionKind.INTAKE, SessionKind.REGULAR)


class _Unchanged:
    """Marks a setting a partial update leaves as it is (None is a value for some)."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Any = _Unchanged()
MODALITY_DEFAULT: Any = UNCHANGED


def video_link(value: Any) -> str | None:
    if value is None:
        return None
    url = text(value, "video_url", 500)
    assert url is not None
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.netloc:
        raise InvalidInputError("video_url must be an https:// link", field="video_url")
    return url


def facilitators(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        raise InvalidInputError(
            "facilitator_ids must list at least one therapist id", field="facilitator_ids"
        )
    ids = [clean_id(v, "facilitator_ids") for v in value]
    if len(set(ids)) != len(ids):
        raise InvalidInputError("facilitator_ids lists a therapist twice", field="facilitator_ids")
    return ids


def _once(aggregates: list[Any]) -> list[Any]:
    """Each aggregate once, in first-seen order (one object may be changed by two steps)."""
    return list({id(a): a for a in aggregates}.values())


def course_sessions(sessions: list[TherapySession]) -> int:
    return sum(1 for s in sessions if not s.is_cancelled and s.kind in COURSE_KINDS)


class GroupCommands(CirclesBase):
    def create_group(
        self,
        actor: str,
        name: Any,
        modality: Any,
        format: Any,
        facilitator_ids: Any,
        timezone: Any,
        currency: Any,
        fees: Any,
        focus_area: Any = None,
        room_id: Any = None,
        video_url: Any = None,
        max_size: Any = DEFAULT_MAX_SIZE,
        min_size: Any = DEFAULT_MIN_SIZE,
        guest_limit: Any = DEFAULT_GUEST_LIMIT,
        length_override_reason: Any = None,
        admission_closes_after: Any = MODALITY_DEFAULT,
    ) -> UUID:
        """``admission_closes_after``: the meeting after which newcomers need an override;
        None never closes; left out, the modality's default (2, none for maintenance)."""
        fmt = parse_enum(Format, format, "format")
        room = None if room_id is None else clean_id(room_id, "room_id")
        video = video_link(video_url)
        if fmt.needs_room and not room:
            raise InvalidInputError(f"a {fmt.value} group needs a room_id", field="room_id")
        if fmt.needs_video and not video:
            raise InvalidInputError(f"a {fmt.value} group needs a video_url", field="video_url")
        if not fmt.needs_room and room:
            raise InvalidInputError("an online group has no room", field="room_id")
        check_sizes(max_size, min_size, guest_limit)
        tz = canonical_zone(timezone)
        schedule = FeeSchedule.parse(currency, fees)
        closes_after = (
            UNCHANGED
            if admission_closes_after is MODALITY_DEFAULT
            else closes_after_setting(admission_closes_after)
        )
        group = TherapyGroup(
            name=text(name, "name"),
            modality=parse_enum(Modality, modality, "modality"),
            format=fmt,
            focus_area=None
            if focus_area is None
            else parse_enum(ProblemArea, focus_area, "focus_area"),
            facilitator_ids=facilitators(facilitator_ids),
            room_id=room,
            video_url=video,
            timezone=tz.key,
            max_size=max_size,
            min_size=min_size,
            guest_limit=guest_limit,
            fees=schedule.as_dict(),
            length_override_reason=optional_reason(
                length_override_reason, "length_override_reason"
            ),
            actor=actor,
        )
        if closes_after is not UNCHANGED:
            group.change_admission_rule(closes_after, actor)
        self.save(group)
        return group.id

    @retrying
    def open_group(self, group_id: Any, actor: str, expected_version: int | None = None) -> None:
        group = self._get(TherapyGroup, group_id, "group", expected_version)
        group.open(actor)
        self.save(group)

    @retrying
    def start_group(self, group_id: Any, actor: str, expected_version: int | None = None) -> None:
        group = self._get(TherapyGroup, group_id, "group", expected_version)
        group.start(course_sessions(self.sessions_of(group)), actor)
        self.save(group)

    @retrying
    def complete_group(
        self, group_id: Any, actor: str, expected_version: int | None = None
    ) -> None:
        """Complete the group: sessions still to come are cancelled (freeing their therapists
        and rooms), enrollments complete, and patients still waiting are withdrawn."""
        group = self._get(TherapyGroup, group_id, "group", expected_version)
        group.complete(actor)
        now = self.clock()
        enrollments = {
            eid: self._get(Enrollment, eid, "enrollment") for eid in group.enrollment_ids.values()
        }
        for enrollment in enrollments.values():
            if enrollment.patient_id in group.waitlist:
                enrollment.withdraw(
                    "the group completed before a seat was free", now, actor, with_group=True
                )
            else:
                enrollment.complete(now, actor)
        days: dict[UUID, ResourceDay] = {}
        sessions = self._cancel_later_sessions(
            group, "the group completed", now, days, actor, enrollments
        )
        self.save(*_once([group, *enrollments.values(), *sessions, *days.values()]))

    @retrying
    def cancel_group(
        self, group_id: Any, actor: str, reason: Any, expected_version: int | None = None
    ) -> None:
        """Cancel the group, its future sessions (and their invitations), and its enrollments."""
        why = reason_text(reason)
        group = self._get(TherapyGroup, group_id, "group", expected_version)
        enrollments = {
            eid: self._get(Enrollment, eid, "enrollment") for eid in group.enrollment_ids.values()
        }
        group.cancel(why, actor)
        now = self.clock()
        changed: list[Any] = [group]
        days: dict[UUID, ResourceDay] = {}
        changed.extend(self._cancel_later_sessions(group, why, now, days, actor, enrollments))
        for enrollment in enrollments.values():
            if enrollment.is_active:
                enrollment.withdraw(f"group cancelled: {why}", now, actor, with_group=True)
                changed.append(enrollment)
        self.save(*_once([*changed, *days.values()]))

    def _cancel_later_sessions(
        self,
        group: TherapyGroup,
        reason: str,
        now: datetime,
        days: dict[UUID, ResourceDay],
        actor: str,
        enrollments: dict[UUID, Enrollment],
    ) -> list[Aggregate]:
        """Cancel the group's sessions that have not started, with their invitations, and
        release their therapist and room reservations into ``days``.

        The caller saves all of it in one transaction with the group: a session, its
        place-holding invitations (at most ``guest_limit``) and one reservation per
        therapist and room per UTC day it touches, shared between sessions on the same day.
        """
        changed: list[Aggregate] = []
        for session in self.sessions_of(group):
            if not session.is_cancelled and session.starts_at > now and not session.attendance:
                changed.extend(
                    self._cancel_session_parts(session, reason, days, actor, enrollments)
                )
        return changed

    @retrying
    def update_group(
        self,
        group_id: Any,
        actor: str,
        expected_version: int | None = None,
        name: Any = None,
        video_url: Any = None,
        max_size: Any = None,
        min_size: Any = None,
        guest_limit: Any = None,
        currency: Any = None,
        fees: Any = None,
        fees_effective_from: Any = None,
        length_override_reason: Any = None,
        admission_closes_after: Any = UNCHANGED,
        admission_override_reason: Any = None,
    ) -> TherapyGroup:
        """Apply a partial change; ``None`` leaves a setting as it is (``admission_closes_after``:
        left out leaves it, None means the group never closes to newcomers).

        Raising ``max_size`` seats waitlisted patients, first come first served, in the same
        transaction; once the group has closed to newcomers only with an
        ``admission_override_reason``.
        """
        override = optional_reason(admission_override_reason, "admission_override_reason")
        group = self._get(TherapyGroup, group_id, "group", expected_version)
        if admission_closes_after is not UNCHANGED:
            group.change_admission_rule(closes_after_setting(admission_closes_after), actor)
        if name is not None:
            group.rename(text(name, "name"), actor)
        if length_override_reason is not None:
            group.record_length_override(
                reason_text(length_override_reason, "length_override_reason"), actor
            )
        if video_url is not None:
            if not group.format.needs_video:
                raise InvalidInputError("an in-person group has no video link", field="video_url")
            group.change_video_url(video_link(video_url), actor)
        if any(v is not None for v in (max_size, min_size, guest_limit)):
            group.change_capacity(
                group.max_size if max_size is None else max_size,
                group.min_size if min_size is None else min_size,
                group.guest_limit if guest_limit is None else guest_limit,
                actor,
            )
        promoted = self._fill_free_seats(group, override, actor)
        if fees is not None:
            schedule = FeeSchedule.parse(currency or group.currency, fees)
            # A change may be announced ahead (bounded, not refused): it applies to sessions
            # that start after it.
            effective = (
                self.clock()
                if fees_effective_from is None
                else local_datetime(fees_effective_from, group.timezone, "fees_effective_from")
            )
            group.change_fees(schedule, effective, actor)
        elif currency is not None and currency != group.currency:
            raise InvalidInputError("change the currency together with the fees", field="currency")
        self.save(group, *promoted)
        return group

    def _fill_free_seats(
        self, group: TherapyGroup, override: str | None, actor: str
    ) -> list[Enrollment]:
        """Seat waitlisted patients in the group's free seats; their enrollments, promoted."""
        if not group.waitlist or not group.free_seats:
            return []
        now = self.clock()
        admission = self.admission_of(group, now)
        patients = group.fill_free_seats(admission, override, actor)
        enrollments = [
            self._get(Enrollment, group.enrollment_id_of(p), "enrollment") for p in patients
        ]
        for enrollment in enrollments:
            enrollment.promote(now, actor, override if admission.closed else None)
        return enrollments
