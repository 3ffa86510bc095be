"""Enrollment with capacity and a FIFO waitlist, intake, and withdrawal with promotion."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from domain.commands.base import CirclesBase, retrying, text
from domain.enrollment import Enrollment
from domain.errors import InvalidInputError, NotFoundError
from domain.group import TherapyGroup
from domain.values import EnrollmentStatus, ProblemArea, parse_enum, require_aware


class EnrollmentCommands(CirclesBase):
    @retrying
    def enroll(
        self,
        group_id: Any,
        actor: str,
        patient_id: Any,
        patient_name: Any,
        enrolled_since: datetime | None = None,
        expected_version: int | None = None,
    ) -> tuple[UUID, EnrollmentStatus]:
        """Seat the patient if a place is free, else put them at the end of the waitlist.

        ``enrolled_since`` back-dates a seat for a running group moved into Circles, so its
        past sessions' attendance can be recorded.
        """
        pid = text(patient_id, "patient_id", 100)
        name = text(patient_name, "patient_name")
        now = self.clock()
        if enrolled_since is not None:
            require_aware(enrolled_since, "enrolled_since")
            if enrolled_since > now:
                raise InvalidInputError(
                    "enrolled_since cannot be in the future", field="enrolled_since"
                )
        group = self._get(TherapyGroup, group_id, "group", expected_version)
        seated = group.admit(pid, actor)
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
            )
        else:
            enrollment.rejoin(status, seat_from or now, actor)
        self.save(group, enrollment)
        return enrollment.id, enrollment.status

    def get_enrollment(self, enrollment_id: Any) -> Enrollment:
        return self._get(Enrollment, enrollment_id, "enrollment")

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
        self, enrollment_id: Any, actor: str, reason: Any, expected_version: int | None = None
    ) -> UUID | None:
        """Withdraw the patient; the first on the waitlist takes the seat. Returns that
        enrollment's id, if someone was promoted."""
        why = text(reason, "reason", 500)
        enrollment = self._get(Enrollment, enrollment_id, "enrollment", expected_version)
        now = self.clock()
        enrollment.withdraw(why, now, actor)
        group = self._get(TherapyGroup, enrollment.group_id, "group")
        promoted_patient = group.release(enrollment.patient_id, actor)
        changed = [enrollment, group]
        promoted_id = None
        if promoted_patient is not None:
            promoted_id = group.enrollment_id_of(promoted_patient)
            promoted = self._get(Enrollment, promoted_id, "enrollment")
            promoted.promote(now, actor)
            changed.append(promoted)
        self.save(*changed)
        return promoted_id
