"""Planning, moving and cancelling sessions, and recording attendance."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.bounds import clean_id, local_datetime, within_bounds
from domain.commands.base import (
    CirclesBase,
    as_uuid,
    cache_first,
    reason_text,
    require_version,
    retrying,
)
from domain.commands.groups import COURSE_KINDS, course_sessions
from domain.course import check_dit_window, check_plan_length
from domain.enrollment import Enrollment, enrollment_id
from domain.errors import CourseLengthError, InvalidInputError, NotFoundError, WrongStateError
from domain.group import TherapyGroup
from domain.invitation import Invitation
from domain.plans import (
    MAX_DURATION_MINUTES,
    PlannedSession,
    PlanPreview,
    SessionPlan,
    whole,
)
from domain.schedule import ResourceDay, utc_days
from domain.session import TherapySession
from domain.values import (
    AttendanceStatus,
    Modality,
    SessionKind,
    parse_enum,
    zone,
)


class SessionCommands(CirclesBase):
    def _check_course(self, group: TherapyGroup, sessions: list[TherapySession]) -> None:
        check_plan_length(group.modality, course_sessions(sessions), group.length_override_reason)
        if group.modality is Modality.DIT:
            check_dit_window(
                [s.starts_at for s in sessions if not s.is_cancelled and s.kind in COURSE_KINDS],
                group.length_override_reason,
            )

    def _new_session(
        self,
        group: TherapyGroup,
        number: int,
        kind: SessionKind,
        starts_at: datetime,
        duration_minutes: int,
        make_up_for: UUID | None,
        actor: str,
    ) -> TherapySession:
        # Every session, planned, made up or moved, starts within the bounds (SPEC §5).
        within_bounds(starts_at, "starts_at")
        return TherapySession(
            group_id=group.id,
            number=number,
            kind=kind,
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            facilitator_ids=group.facilitator_ids,
            room_id=group.room_id,
            video_url=group.video_url,
            make_up_for=make_up_for,
            actor=actor,
        )

    @retrying
    def plan_sessions(
        self,
        group_id: Any,
        actor: str,
        first_date: Any,
        start_time: Any,
        duration_minutes: Any,
        count: Any,
        cadence: Any = None,
        interval: Any = None,
        skip_dates: Any = (),
        kind: Any = None,
        expected_version: int | None = None,
    ) -> list[UUID]:
        """Plan ``count`` sessions; without a cadence, maintenance sessions are monthly and
        course sessions weekly."""
        group = self._get(TherapyGroup, group_id, "group", expected_version)
        _, existing, new = self._planned(
            group, actor, first_date=first_date, start_time=start_time,
            duration_minutes=duration_minutes, count=count, cadence=cadence, interval=interval,
            skip_dates=skip_dates, kind=kind,
        )  # fmt: skip
        self._check_course(group, existing + new)
        days: dict[UUID, ResourceDay] = {}
        for session in new:
            self._book(days, session, group.name, actor)
        group.add_sessions([s.id for s in new], actor)
        self.save(group, *new, *days.values())
        return [s.id for s in new]

    def preview_plan(
        self, group_id: Any, actor: str, expected_version: int | None = None, **plan: Any
    ) -> PlanPreview:
        """What ``plan_sessions`` with the same arguments would create, saving nothing: the
        sessions with the closures that pushed each and the clock changes before them, every
        therapist or room collision (the command stops at the first), and the course-length
        rule it would break. Input it would refuse is refused here the same way."""
        group = self._get(TherapyGroup, group_id, "group", expected_version)
        parsed, existing, new = self._planned(group, actor, **plan)
        try:
            self._check_course(group, existing + new)
            problem = None
        except CourseLengthError as error:
            problem = error.message
        # The plan's own sessions never overlap one another (a week or a month apart, at
        # most 8 hours long), so the bookings already saved are all there is to check.
        days: dict[UUID, ResourceDay] = {}
        scheduled = parsed.schedule()
        sessions = []
        previous: datetime | None = None
        for session, planned in zip(new, scheduled, strict=True):
            collisions = [
                collision
                for kind_, resource_id in self._resources(session)
                for day in utc_days(session.starts_at, session.ends_at)
                for collision in self._resource_day(days, kind_, resource_id, day).collisions(
                    session.id, session.starts_at, session.ends_at
                )
            ]
            unique = {(c.resource, c.session_id): c for c in collisions}
            sessions.append(
                PlannedSession(
                    number=session.number,
                    kind=session.kind,
                    starts_at=session.starts_at,
                    ends_at=session.ends_at,
                    pushed_past=planned.pushed_past,
                    clock_change=previous is not None
                    and previous.utcoffset() != session.starts_at.utcoffset(),
                    collisions=tuple(unique.values()),
                )
            )
            previous = session.starts_at
        pushed = {d for p in scheduled for d in p.pushed_past}
        return PlanPreview(
            timezone=group.timezone,
            sessions=tuple(sessions),
            closures_unused=tuple(sorted(parsed.skip_dates - pushed)),
            course_problem=problem,
        )

    def _planned(
        self, group: TherapyGroup, actor: str, kind: Any = None, cadence: Any = None, **plan: Any
    ) -> tuple[SessionPlan, list[TherapySession], list[TherapySession]]:
        """The plan, the group's sessions so far, and the new sessions (not saved)."""
        group.require_active("plan sessions")
        session_kind = self._plan_kind(group, kind)
        parsed = SessionPlan.parse(cadence=cadence, kind=session_kind, **plan)
        existing = self.sessions_of(group)
        new = [
            self._new_session(
                group,
                len(existing) + i + 1,
                session_kind,
                start,
                parsed.duration_minutes,
                None,
                actor,
            )
            for i, start in enumerate(parsed.starts(zone(group.timezone), "first_date"))
        ]
        return parsed, existing, new

    @staticmethod
    def _plan_kind(group: TherapyGroup, kind: Any) -> SessionKind:
        if group.modality is Modality.MAINTENANCE:
            if kind not in (None, SessionKind.MAINTENANCE, SessionKind.MAINTENANCE.value):
                raise InvalidInputError(
                    "every session of a maintenance group is a maintenance session", field="kind"
                )
            return SessionKind.MAINTENANCE
        return SessionKind.REGULAR if kind is None else parse_enum(SessionKind, kind, "kind")

    @retrying
    def add_make_up_session(
        self,
        group_id: Any,
        actor: str,
        make_up_for: Any,
        starts_at: Any,
        duration_minutes: Any = None,
        expected_version: int | None = None,
    ) -> UUID:
        group = self._get(TherapyGroup, group_id, "group", expected_version)
        group.require_active("add a make-up session")
        original = self._get(TherapySession, make_up_for, "session")
        if original.group_id != group.id:
            raise InvalidInputError(
                "make_up_for must be a session of this group", field="make_up_for"
            )
        if not original.is_cancelled:
            raise WrongStateError(
                f"session {original.label()} is not cancelled; a make-up replaces a cancelled "
                "session"
            )
        existing = self.sessions_of(group)
        if any(s.make_up_for == original.id and not s.is_cancelled for s in existing):
            raise WrongStateError(f"session {original.label()} already has a make-up session")
        minutes = original.duration_minutes if duration_minutes is None else duration_minutes
        start = local_datetime(starts_at, group.timezone, "starts_at")
        session = self._new_session(
            group,
            len(existing) + 1,
            original.kind,
            start,
            whole(minutes, "duration_minutes", 15, MAX_DURATION_MINUTES),
            original.id,
            actor,
        )
        self._check_course(group, [*existing, session])
        days: dict[UUID, ResourceDay] = {}
        self._book(days, session, group.name, actor)
        group.add_sessions([session.id], actor)
        self.save(group, session, *days.values())
        return session.id

    @retrying
    def reschedule_session(
        self,
        session_id: Any,
        actor: str,
        starts_at: Any,
        reason: Any,
        expected_version: int | None = None,
    ) -> TherapySession:
        why = reason_text(reason)
        session = self._get(TherapySession, session_id, "session", expected_version)
        group = self.get_group(session.group_id)
        group.require_active("reschedule sessions")
        start = local_datetime(starts_at, group.timezone, "starts_at")
        days: dict[UUID, ResourceDay] = {}
        self._release(days, session, actor)
        session.reschedule(start, why, actor)
        # Advance cancellations stay with the session; the patients' records follow its
        # new time, which orders the at-risk rule.
        moved: list[Aggregate] = []
        for patient_id, (_, status) in session.cancellations.items():
            enrollment = self._get(
                Enrollment, enrollment_id(session.group_id, patient_id), "enrollment"
            )
            enrollment.note_attendance(session.id, session.starts_at, status, actor)
            moved.append(enrollment)
        if group.modality is Modality.DIT:
            others = [s for s in self.sessions_of(group) if s.id != session.id]
            self._check_course(group, [*others, session])
        self._book(days, session, group.name, actor)
        invitations = [self._get(Invitation, i, "invitation") for i in session.invitation_ids]
        for invitation in invitations:
            invitation.follow_session(start, actor)
        self.save(session, *invitations, *moved, *days.values())
        return session

    @retrying
    def cancel_session(
        self, session_id: Any, actor: str, reason: Any, expected_version: int | None = None
    ) -> TherapySession:
        why = reason_text(reason)
        session = self._get(TherapySession, session_id, "session", expected_version)
        days: dict[UUID, ResourceDay] = {}
        changed = self._cancel_session_parts(session, why, days, actor)
        self.save(*changed, *days.values())
        return session

    @retrying
    def record_advance_cancellation(
        self,
        session_id: Any,
        actor: str,
        patient_id: Any,
        told_at: Any,
        expected_version: int | None = None,
    ) -> tuple[TherapySession, AttendanceStatus]:
        """The patient called to cancel: excused, or late_cancel when told inside the
        group's late-cancel window (the fees in force at the session's start say how wide).
        A later attendance correction overrides it; cancelling the session drops it."""
        pid = clean_id(patient_id, "patient_id")
        session = self._get(TherapySession, session_id, "session", expected_version)
        group = self.get_group(session.group_id)
        # The future is refused by the session, which compares with its own start too.
        told = local_datetime(told_at, group.timezone, "told_at")
        session.require_scheduled("record a cancellation")
        enrollment = self._enrolled_at_session(session, pid)
        window = group.fees_for(session.starts_at).late_cancel_window_hours
        status = session.record_cancellation(pid, told, window, self.clock(), actor)
        enrollment.note_attendance(session.id, session.starts_at, status, actor)
        self.save(session, enrollment)
        return session, status

    def _enrolled_at_session(self, session: TherapySession, patient_id: str) -> Enrollment:
        try:
            # The id is derived from (group, patient): no need to load the group.
            enrollment = self._get(
                Enrollment, enrollment_id(session.group_id, patient_id), "enrollment"
            )
        except NotFoundError:
            raise NotFoundError(f"patient {patient_id} is not in this session's group") from None
        if not enrollment.was_enrolled_at(session.starts_at):
            raise WrongStateError(
                f"patient {patient_id} was not enrolled in the group at the time of session "
                f"{session.label()}"
            )
        return enrollment

    @retrying
    @cache_first
    def record_attendance(
        self,
        session_id: Any,
        actor: str,
        records: Any,
        expected_version: int | None = None,
        authorize: Callable[[TherapySession], None] | None = None,
    ) -> TherapySession:
        """Set or correct attendance for the people listed; others keep what they had.

        ``authorize`` (the caller's scope check) sees the session before anything else is
        decided about it, so a caller out of scope learns nothing, not even its version."""
        if not isinstance(records, list | tuple) or not records:
            raise InvalidInputError("records must list at least one attendance", field="records")
        session = self._get(TherapySession, session_id, "session")
        if authorize is not None:
            authorize(session)
        require_version(session, "session", expected_version)
        session.require_started(self.clock())
        changed: list[Aggregate] = [session]
        seen: set[str] = set()
        for record in records:
            if not isinstance(record, dict):
                raise InvalidInputError("each record is an object", field="records")
            status = parse_enum(AttendanceStatus, record.get("status"), "status")
            has_patient = record.get("patient_id") is not None
            if has_patient == (record.get("invitation_id") is not None):
                raise InvalidInputError(
                    "each record names either a patient_id or an invitation_id", field="records"
                )
            key = (
                clean_id(record["patient_id"], "patient_id")
                if has_patient
                else str(record.get("invitation_id"))
            )
            if key in seen:
                raise InvalidInputError(f"{key} is listed twice", field="records")
            seen.add(key)
            if has_patient:
                changed.extend(self._patient_attendance(session, key, status, actor))
            else:
                changed.append(self._guest_attendance(session, key, status, actor))
        self.save(*changed)
        return session

    def _patient_attendance(
        self,
        session: TherapySession,
        patient_id: str,
        status: AttendanceStatus,
        actor: str,
    ) -> list[Aggregate]:
        enrollment = self._enrolled_at_session(session, patient_id)
        if session.record_attendance(patient_id, status, actor) is status:
            return []
        enrollment.note_attendance(session.id, session.starts_at, status, actor)
        return [enrollment]

    def _guest_attendance(
        self, session: TherapySession, invitation_id: str, status: AttendanceStatus, actor: str
    ) -> Invitation:
        invitation = self._get(Invitation, as_uuid(invitation_id, "invitation"), "invitation")
        if invitation.session_id != session.id:
            raise InvalidInputError(
                f"invitation {invitation_id} is for another session", field="records"
            )
        session.record_guest_attendance(invitation.id, status, actor)
        invitation.record_attendance(status is not AttendanceStatus.ABSENT, actor)
        return invitation
