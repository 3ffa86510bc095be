"""A patient's place in a group: enrolled or waitlisted, intake, at-risk flag, and its end."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import WrongStateError
from domain.values import AttendanceStatus, EnrollmentStatus, ProblemArea, instant

NO_SHOWS_FOR_RISK = 2
_NAMESPACE = uuid5(NAMESPACE_URL, "https://circles.invalid/enrollment")


def two_no_shows_in_a_row(statuses: Iterable[AttendanceStatus]) -> bool:
    """The at-risk rule (SPEC §2): of a patient's recorded sessions in one group, in session
    order, the last two were both no-shows. Excused and late cancellations are not no-shows:
    the patient told the clinic. Every view that shows the flag asks this function."""
    recent = list(statuses)[-NO_SHOWS_FOR_RISK:]
    return len(recent) == NO_SHOWS_FOR_RISK and all(s is AttendanceStatus.ABSENT for s in recent)


def enrollment_id(group_id: UUID, patient_id: str) -> UUID:
    """One enrollment per patient per group: its id is derived from the pair, so the
    store itself refuses a second one, and the group need not remember every id."""
    return uuid5(_NAMESPACE, f"{group_id}:{patient_id}")


class Enrollment(Aggregate):
    # Why the patient was admitted after the group closed to newcomers (SPEC §2, closed
    # groups), as recorded on the event that seated or waitlisted them; None when it was open.
    admission_override_reason: str | None = None

    class Created(Aggregate.Created):
        # The id is derived (``enrollment_id``) and is the originator id, not a field.
        group_id: UUID
        patient_id: str
        patient_name: str
        status: EnrollmentStatus
        enrolled_at: datetime | None
        actor: str
        admission_override_reason: str | None

    @event(Created)
    def __init__(
        self,
        id: UUID,
        group_id: UUID,
        patient_id: str,
        patient_name: str,
        status: EnrollmentStatus,
        enrolled_at: datetime | None,
        actor: str,
        admission_override_reason: str | None = None,
    ) -> None:
        self.group_id = group_id
        self.patient_id = patient_id
        self.patient_name = patient_name
        self.status = status
        self.enrolled_at = enrolled_at
        self.admission_override_reason = admission_override_reason
        self.ended_at: datetime | None = None
        # Earlier seats, as [enrolled_at, ended_at], when the patient left and came back.
        self.past_periods: list[list[datetime | None]] = []
        self.end_reason: str | None = None
        self.primary_area: ProblemArea | None = None
        self.inventory_done = False
        # session id -> (session start, status): what the at-risk rule reads.
        self.attendance: dict[str, tuple[datetime, AttendanceStatus]] = {}

    @property
    def is_active(self) -> bool:
        return self.status in (EnrollmentStatus.ENROLLED, EnrollmentStatus.WAITLISTED)

    def was_enrolled_at(self, moment: datetime) -> bool:
        periods: list[list[datetime | None]] = [
            *self.past_periods,
            [self.enrolled_at, self.ended_at],
        ]
        return any(
            start is not None
            and instant(start) <= instant(moment)
            and (end is None or instant(moment) < instant(end))
            for start, end in periods
        )

    @property
    def at_risk(self) -> bool:
        """Two no-shows in a row: the last two recorded sessions were both missed."""
        ordered = sorted(self.attendance.values(), key=lambda pair: instant(pair[0]))
        return two_no_shows_in_a_row(status for _, status in ordered)

    def record_intake(self, primary_area: ProblemArea, inventory_done: bool, actor: str) -> None:
        if not self.is_active:
            raise WrongStateError(f"the enrollment is {self.status.value}; intake is closed")
        self._intake_recorded(primary_area=primary_area, inventory_done=inventory_done, actor=actor)

    class IntakeRecorded(Aggregate.Event):
        primary_area: ProblemArea
        inventory_done: bool
        actor: str

    @event(IntakeRecorded)
    def _intake_recorded(self, primary_area: ProblemArea, inventory_done: bool, actor: str) -> None:
        self.primary_area = primary_area
        self.inventory_done = inventory_done

    def promote(self, at: datetime, actor: str, admission_override_reason: str | None) -> None:
        if self.status is not EnrollmentStatus.WAITLISTED:
            raise WrongStateError(f"only a waitlisted patient can be promoted; {self.status.value}")
        self._promoted(
            enrolled_at=at, actor=actor, admission_override_reason=admission_override_reason
        )

    class Promoted(Aggregate.Event):
        enrolled_at: datetime
        actor: str
        admission_override_reason: str | None

    @event(Promoted)
    def _promoted(
        self, enrolled_at: datetime, actor: str, admission_override_reason: str | None = None
    ) -> None:
        self.status = EnrollmentStatus.ENROLLED
        self.enrolled_at = enrolled_at
        if admission_override_reason is not None:
            self.admission_override_reason = admission_override_reason

    def withdraw(self, reason: str, at: datetime, actor: str, with_group: bool = False) -> None:
        """End the enrollment. ``with_group``: it ends because the group itself ended (its
        remaining sessions are cancelled with it, and the patient's calendar shows them so)."""
        if not self.is_active:
            raise WrongStateError(f"the enrollment is already {self.status.value}")
        self._withdrawn(reason=reason, at=at, actor=actor, with_group=with_group)

    class Withdrawn(Aggregate.Event):
        reason: str
        at: datetime
        actor: str
        with_group: bool

    @event(Withdrawn)
    def _withdrawn(self, reason: str, at: datetime, actor: str, with_group: bool = False) -> None:
        self.status = EnrollmentStatus.WITHDRAWN
        self.ended_at = at
        self.end_reason = reason

    def rejoin(
        self,
        status: EnrollmentStatus,
        at: datetime,
        actor: str,
        admission_override_reason: str | None,
    ) -> None:
        """A withdrawn patient comes back: seated again, or at the end of the waitlist."""
        if self.status is not EnrollmentStatus.WITHDRAWN:
            raise WrongStateError(f"the enrollment is {self.status.value}; it cannot rejoin")
        self._rejoined(
            status=status, at=at, actor=actor, admission_override_reason=admission_override_reason
        )

    class Rejoined(Aggregate.Event):
        status: EnrollmentStatus
        at: datetime
        actor: str
        admission_override_reason: str | None

    @event(Rejoined)
    def _rejoined(
        self,
        status: EnrollmentStatus,
        at: datetime,
        actor: str,
        admission_override_reason: str | None = None,
    ) -> None:
        self.admission_override_reason = admission_override_reason
        if self.enrolled_at is not None:
            self.past_periods = [*self.past_periods, [self.enrolled_at, self.ended_at or at]]
        self.status = status
        self.enrolled_at = at if status is EnrollmentStatus.ENROLLED else None
        self.ended_at = None
        self.end_reason = None

    def complete(self, at: datetime, actor: str) -> None:
        """The group completed; its later sessions are cancelled with it (``with_group``)."""
        if self.status is EnrollmentStatus.ENROLLED:
            self._completed(at=at, actor=actor, with_group=True)

    class Completed(Aggregate.Event):
        at: datetime
        actor: str
        with_group: bool

    @event(Completed)
    def _completed(self, at: datetime, actor: str, with_group: bool = False) -> None:
        self.status = EnrollmentStatus.COMPLETED
        self.ended_at = at

    def note_attendance(
        self, session_id: UUID, session_start: datetime, status: AttendanceStatus, actor: str
    ) -> bool:
        """Keep the patient's attendance record; returns True when the at-risk flag changed."""
        was = self.at_risk
        self._attendance_noted(
            session_id=session_id, session_start=session_start, status=status, actor=actor
        )
        return was != self.at_risk

    class AttendanceNoted(Aggregate.Event):
        session_id: UUID
        session_start: datetime
        status: AttendanceStatus
        actor: str

    @event(AttendanceNoted)
    def _attendance_noted(
        self, session_id: UUID, session_start: datetime, status: AttendanceStatus, actor: str
    ) -> None:
        self.attendance = {**self.attendance, str(session_id): (session_start, status)}

    def forget_attendance(self, session_id: UUID, actor: str) -> None:
        """The clinic cancelled the session: what the patient said about it (an advance
        cancellation) no longer counts in their record."""
        if str(session_id) in self.attendance:
            self._attendance_forgotten(session_id=session_id, actor=actor)

    class AttendanceForgotten(Aggregate.Event):
        session_id: UUID
        actor: str

    @event(AttendanceForgotten)
    def _attendance_forgotten(self, session_id: UUID, actor: str) -> None:
        self.attendance = {k: v for k, v in self.attendance.items() if k != str(session_id)}
