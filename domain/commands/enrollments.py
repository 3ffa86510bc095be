"""Enrollment with capacity and a FIFO waitlist, intake, and withdrawal with promotion."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.bounds import clean_id, local_datetime
from domain.commands.base import CirclesBase, optional_reason, reason_text, retrying, text
from domain.enrollment import Enrollment
from domain.errors import InvalidInputError, NotFoundError
from domain.group import TherapyGroup
from domain.invitation import Invitation
from domain.session import TherapySession
from domain.values import EnrollmentStatus, ProblemArea, parse_enum


class EnrollmentCommands(CirclesBase):
    @retrying
    def enroll(
        self,
        group_id: Any,
        actor: str,
        patient_id: Any,
        patient_name: Any,
        enrolled_since: Any = None,
        expected_version: int | None = None,
        admission_override_reason: Any = None,
    ) -> tuple[UUID, EnrollmentStatus]:
        """Seat the patient if a place is free, else put them at the end of the waitlist.

        ``enrolled_since`` back-dates a seat for a running group moved into Circles, so its
        past sessions' attendance can be recorded. Once the group has closed to newcomers
        (at ``enrolled_since``, when given), ``admission_override_reason`` is required.
        """
        pid = clean_id(patient_id, "patient_id")
        name = text(patient_name, "patient_name")
        override = optional_reason(admission_override_reason, "admission_override_reason")
        now = self.clock()
        group = self._get(TherapyGroup, group_id, "group", expected_version)
        if enrolled_since is not None:
            enrolled_since = local_datetime(
                enrolled_since, group.timezone, "enrolled_since", not_after=now
            )
        admission = self.admission_of(group, enrolled_since or now)
        seated = group.admit(pid, admission, override, actor)
        used_override = override if admission.closed else None
        status = EnrollmentStatus.ENROLLED if seated else EnrollmentStatus.WAITLISTED
        seat_from = (enrolled_since or now) if seated else None
        try:
            enrollment = self._get(Enrollment, group.enrollment_id_of(pid), "enrollment")
        except NotFoundError:
            enrollment = Enrollment(
                id=group.enrollment_id_of(pid),
                group_id=group.id,
                patient_id=pid,
                patient_name=name,
                status=status,
                enrolled_at=seat_from,
                actor=actor,
                admission_override_reason=used_override,
            )
        else:
            enrollment.rejoin(status, seat_from or now, actor, used_override)
        self.save(group, enrollment)
        return enrollment.id, enrollment.status

    def get_enrollment(self, enrollment_id: Any) -> Enrollment:
        return self._get(Enrollment, enrollment_id, "enrollment", fresh=True)

    @retrying
    def record_intake(
        self,
        enrollment_id: Any,
        actor: str,
        primary_area: Any,
        inventory_done: Any,
        expected_version: int | None = None,
    ) -> Enrollment:
        enrollment = self._get(Enrollment, enrollment_id, "enrollment", expected_version)
        if not isinstance(inventory_done, bool):
            raise InvalidInputError("inventory_done must be true or false", field="inventory_done")
        if not inventory_done:
            raise InvalidInputError(
                "the interpersonal inventory must be done before intake is recorded",
                field="inventory_done",
            )
        enrollment.record_intake(
            parse_enum(ProblemArea, primary_area, "primary_area"), inventory_done, actor
        )
        self.save(enrollment)
        return enrollment

    @retrying
    def withdraw(
        self,
        enrollment_id: Any,
        actor: str,
        reason: Any,
        expected_version: int | None = None,
        admission_override_reason: Any = None,
    ) -> UUID | None:
        """Withdraw the patient, in one transaction with what follows from it:

        - the first on the waitlist takes the seat, unless the group has closed to newcomers
          and no ``admission_override_reason`` is given (then the waitlist keeps waiting);
        - the patient's guest invitations to sessions still to come are revoked.

        Returns the promoted enrollment's id, if someone was promoted.
        """
        why = reason_text(reason)
        override = optional_reason(admission_override_reason, "admission_override_reason")
        enrollment = self._get(Enrollment, enrollment_id, "enrollment", expected_version)
        now = self.clock()
        enrollment.withdraw(why, now, actor)
        group = self._get(TherapyGroup, enrollment.group_id, "group")
        sessions = self.sessions_of(group)
        admission = self.admission_of(group, now, sessions)
        promoted_patient = group.release(enrollment.patient_id, admission, override, actor)
        changed: list[Aggregate] = [enrollment, group]
        promoted_id = None
        if promoted_patient is not None:
            promoted_id = group.enrollment_id_of(promoted_patient)
            promoted = self._get(Enrollment, promoted_id, "enrollment")
            promoted.promote(now, actor, override if admission.closed else None)
            changed.append(promoted)
        changed.extend(self._revoke_later_invitations(enrollment.patient_id, sessions, now, actor))
        self.save(*changed)
        return promoted_id

    def _revoke_later_invitations(
        self, patient_id: str, sessions: list[TherapySession], now: datetime, actor: str
    ) -> list[Aggregate]:
        """Revoke the patient's guest invitations to sessions that have not started: the
        other members' privacy does not extend to a guest of someone who left the group."""
        changed: list[Aggregate] = []
        for session in sessions:
            if session.is_cancelled or session.starts_at <= now or not session.invitation_ids:
                continue
            invitations = [self._get(Invitation, i, "invitation") for i in session.invitation_ids]
            theirs = [
                i for i in invitations if i.patient_id == patient_id and i.status.holds_a_place
            ]
            for invitation in theirs:
                invitation.revoke("the patient withdrew from the group", now, actor)
                session.free_guest_place(invitation.id, actor)
            if theirs:
                changed.extend([*theirs, session])
        return changed
