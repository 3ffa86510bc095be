"""One therapy session: its time, place, status, roster of attendance and guests."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import CapacityError, DuplicateError, InvalidInputError, WrongStateError
from domain.values import AttendanceStatus, SessionKind, SessionStatus, add_elapsed, instant

GUEST_STATUSES = (AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.ABSENT)


def advance_cancellation_status(
    told_at: datetime, starts_at: datetime, window_hours: int
) -> AttendanceStatus:
    """A patient who cancels at least ``window_hours`` before the session is excused; one
    who cancels later (inside the window) is a late cancellation, which is charged.

    Measured in absolute time: on a night the clocks change, 24 hours before 18:00 is
    not 18:00 the day before on the wall clock.
    """
    notice = instant(starts_at) - instant(told_at)
    if notice < timedelta(hours=window_hours):
        return AttendanceStatus.LATE_CANCEL
    return AttendanceStatus.EXCUSED


class TherapySession(Aggregate):
    class Scheduled(Aggregate.Created):
        group_id: UUID
        number: int
        kind: SessionKind
        starts_at: datetime
        duration_minutes: int
        facilitator_ids: list[str]
        room_id: str | None
        video_url: str | None
        make_up_for: UUID | None
        actor: str

    @event(Scheduled)
    def __init__(
        self,
        group_id: UUID,
        number: int,
        kind: SessionKind,
        starts_at: datetime,
        duration_minutes: int,
        facilitator_ids: list[str],
        room_id: str | None,
        video_url: str | None,
        make_up_for: UUID | None,
        actor: str,
    ) -> None:
        self.group_id = group_id
        self.number = number
        self.kind = kind
        self.starts_at = starts_at
        self.duration_minutes = duration_minutes
        self.facilitator_ids = list(facilitator_ids)
        self.room_id = room_id
        self.video_url = video_url
        self.make_up_for = make_up_for
        self.status = SessionStatus.SCHEDULED
        self.sequence = 0
        self.attendance: dict[str, AttendanceStatus] = {}
        self.guest_attendance: dict[str, AttendanceStatus] = {}
        # patient id -> (when the clinic was told, excused or late_cancel)
        self.cancellations: dict[str, tuple[datetime, AttendanceStatus]] = {}
        self.invitation_ids: list[UUID] = []

    @property
    def ends_at(self) -> datetime:
        """The end after ``duration_minutes`` of real time, in the session's zone."""
        return add_elapsed(self.starts_at, self.duration)

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def is_cancelled(self) -> bool:
        return self.status is SessionStatus.CANCELLED

    @property
    def timezone(self) -> str:
        return getattr(self.starts_at.tzinfo, "key", "UTC")

    def label(self) -> str:
        # The zone's abbreviation tells the two 01:30s of the night clocks go back apart.
        return f"#{self.number} on {self.starts_at:%Y-%m-%d %H:%M %Z} ({self.timezone})"

    def require_scheduled(self, doing: str) -> None:
        if self.is_cancelled:
            raise WrongStateError(f"cannot {doing}: session {self.label()} is cancelled")

    # --- time ---------------------------------------------------------------------------------

    def reschedule(self, starts_at: datetime, reason: str, actor: str) -> None:
        self.require_scheduled("reschedule")
        if self.attendance or self.guest_attendance:
            raise WrongStateError(
                f"session {self.label()} already has attendance recorded; it cannot be moved"
            )
        if instant(starts_at) == instant(self.starts_at):
            raise InvalidInputError(
                "the new start time is the session's current time", field="starts_at"
            )
        self._rescheduled(starts_at=starts_at, reason=reason, actor=actor)

    class Rescheduled(Aggregate.Event):
        starts_at: datetime
        reason: str
        actor: str

    @event(Rescheduled)
    def _rescheduled(self, starts_at: datetime, reason: str, actor: str) -> None:
        self.starts_at = starts_at
        self.sequence += 1

    def cancel(self, reason: str, actor: str) -> None:
        self.require_scheduled("cancel")
        if self.attendance:
            raise WrongStateError(
                f"session {self.label()} already has attendance recorded; it cannot be cancelled"
            )
        self._cancelled(reason=reason, actor=actor)

    class Cancelled(Aggregate.Event):
        reason: str
        actor: str

    @event(Cancelled)
    def _cancelled(self, reason: str, actor: str) -> None:
        self.status = SessionStatus.CANCELLED
        self.sequence += 1
        self.invitation_ids = []
        # Nobody is excused from a session that does not take place.
        self.cancellations = {}

    # --- attendance ---------------------------------------------------------------------------

    def require_started(self, now: datetime) -> None:
        self.require_scheduled("record attendance")
        if instant(now) < instant(self.starts_at):
            raise WrongStateError(
                f"attendance can be recorded only once the session has started "
                f"(it starts {self.starts_at.isoformat()})"
            )

    def status_of(self, patient_id: str) -> AttendanceStatus | None:
        """What counts for the patient: attendance recorded at or after the session, else
        their advance cancellation, else nothing yet."""
        found = self.attendance.get(patient_id)
        if found is None and patient_id in self.cancellations:
            found = self.cancellations[patient_id][1]
        return found

    @property
    def attendance_by_patient(self) -> dict[str, AttendanceStatus]:
        """Every patient with a status, recorded or from an advance cancellation."""
        ahead = {p: status for p, (_, status) in self.cancellations.items()}
        return {**ahead, **self.attendance}

    def record_cancellation(
        self,
        patient_id: str,
        told_at: datetime,
        window_hours: int,
        now: datetime,
        actor: str,
    ) -> AttendanceStatus:
        """The patient cancels ahead; returns excused or late_cancel (see
        ``advance_cancellation_status``)."""
        self.require_scheduled("record a cancellation")
        if instant(now) >= instant(self.starts_at):
            raise WrongStateError(
                f"session {self.label()} has started; an advance cancellation is recorded "
                "before it — record its attendance instead"
            )
        if instant(told_at) > instant(now):
            raise InvalidInputError(
                "told_at is in the future; record a cancellation once the patient has called",
                field="told_at",
            )
        if patient_id in self.cancellations:
            told, status = self.cancellations[patient_id]
            raise DuplicateError(
                f"patient {patient_id} already cancelled session {self.label()} "
                f"(told at {told.isoformat()}, {status.value})"
            )
        status = advance_cancellation_status(told_at, self.starts_at, window_hours)
        self._cancellation_recorded(
            patient_id=patient_id, told_at=told_at, status=status, actor=actor
        )
        return status

    class AdvanceCancellationRecorded(Aggregate.Event):
        patient_id: str
        told_at: datetime
        status: AttendanceStatus
        actor: str

    @event(AdvanceCancellationRecorded)
    def _cancellation_recorded(
        self, patient_id: str, told_at: datetime, status: AttendanceStatus, actor: str
    ) -> None:
        self.cancellations = {**self.cancellations, patient_id: (told_at, status)}

    def record_attendance(
        self, patient_id: str, status: AttendanceStatus, actor: str
    ) -> AttendanceStatus | None:
        """Set or correct one patient's attendance (an advance cancellation included).
        Returns the previous status."""
        previous = self.status_of(patient_id)
        if previous is not status:
            self._attendance_recorded(
                patient_id=patient_id, status=status, previous=previous, actor=actor
            )
        return previous

    class AttendanceRecorded(Aggregate.Event):
        patient_id: str
        status: AttendanceStatus
        previous: AttendanceStatus | None
        actor: str

    @event(AttendanceRecorded)
    def _attendance_recorded(
        self,
        patient_id: str,
        status: AttendanceStatus,
        previous: AttendanceStatus | None,
        actor: str,
    ) -> None:
        self.attendance = {**self.attendance, patient_id: status}

    def record_guest_attendance(
        self, invitation_id: UUID, status: AttendanceStatus, actor: str
    ) -> None:
        if status not in GUEST_STATUSES:
            raise InvalidInputError(
                "a guest is recorded as present, late or absent", field="status"
            )
        previous = self.guest_attendance.get(str(invitation_id))
        if previous is not status:
            self._guest_attendance_recorded(
                invitation_id=invitation_id, status=status, previous=previous, actor=actor
            )

    class GuestAttendanceRecorded(Aggregate.Event):
        invitation_id: UUID
        status: AttendanceStatus
        previous: AttendanceStatus | None
        actor: str

    @event(GuestAttendanceRecorded)
    def _guest_attendance_recorded(
        self,
        invitation_id: UUID,
        status: AttendanceStatus,
        previous: AttendanceStatus | None,
        actor: str,
    ) -> None:
        self.guest_attendance = {**self.guest_attendance, str(invitation_id): status}

    # --- guests -------------------------------------------------------------------------------

    def hold_guest_place(
        self, invitation_id: UUID, guest_limit: int, now: datetime, actor: str
    ) -> None:
        self.require_scheduled("invite a guest")
        if instant(now) >= instant(self.starts_at):
            raise WrongStateError("guests can be invited only before the session starts")
        if len(self.invitation_ids) >= guest_limit:
            raise CapacityError(
                f"session {self.label()} already has {len(self.invitation_ids)} of "
                f"{guest_limit} guest places taken"
            )
        self._guest_place_held(invitation_id=invitation_id, actor=actor)

    class GuestPlaceHeld(Aggregate.Event):
        invitation_id: UUID
        actor: str

    @event(GuestPlaceHeld)
    def _guest_place_held(self, invitation_id: UUID, actor: str) -> None:
        self.invitation_ids = [*self.invitation_ids, invitation_id]

    def free_guest_place(self, invitation_id: UUID, actor: str) -> None:
        if invitation_id in self.invitation_ids:
            self._guest_place_freed(invitation_id=invitation_id, actor=actor)

    class GuestPlaceFreed(Aggregate.Event):
        invitation_id: UUID
        actor: str

    @event(GuestPlaceFreed)
    def _guest_place_freed(self, invitation_id: UUID, actor: str) -> None:
        self.invitation_ids = [i for i in self.invitation_ids if i != invitation_id]
