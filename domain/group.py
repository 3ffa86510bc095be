"""The therapy group: its settings, fee history, roster, waitlist and session list.

Rule checks live in the public methods; the private ``@event`` methods only apply
state, so old events stay replayable when a rule changes.

Each event is a class declared just above the method that applies it: its fields are what
the store keeps, and the views type their handlers with it. Stored events of a class no
longer written are read as what replaced them (domain.upcasting).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.admission import DEFAULT_ADMISSION_CLOSES_AFTER, Admission
from domain.course import check_course_can_start, check_sizes
from domain.enrollment import enrollment_id
from domain.errors import CapacityError, DuplicateError, InvalidInputError, WrongStateError
from domain.values import (
    FeePeriod,
    FeeSchedule,
    Format,
    GroupStatus,
    Modality,
    ProblemArea,
    fee_in_force,
)

DEFAULT_MAX_SIZE = 8
DEFAULT_MIN_SIZE = 4
DEFAULT_GUEST_LIMIT = 2


ADMITTING = (GroupStatus.OPEN, GroupStatus.RUNNING)


class TherapyGroup(Aggregate):
    # A coordinator's admission_closes_after, once set (AdmissionRuleChanged). Groups without
    # one, and snapshots taken before the rule existed, follow their modality's default.
    admission_rule_set = False
    admission_rule: int | None = None

    class Created(Aggregate.Created):
        name: str
        modality: Modality
        format: Format
        focus_area: ProblemArea | None
        facilitator_ids: list[str]
        room_id: str | None
        video_url: str | None
        timezone: str
        max_size: int
        min_size: int
        guest_limit: int
        fees: dict[str, Any]
        length_override_reason: str | None
        actor: str

    @event(Created)
    def __init__(
        self,
        name: str,
        modality: Modality,
        format: Format,
        focus_area: ProblemArea | None,
        facilitator_ids: list[str],
        room_id: str | None,
        video_url: str | None,
        timezone: str,
        max_size: int,
        min_size: int,
        guest_limit: int,
        fees: dict[str, Any],
        length_override_reason: str | None,
        actor: str,
    ) -> None:
        self.name = name
        self.modality = modality
        self.format = format
        self.focus_area = focus_area
        self.facilitator_ids = list(facilitator_ids)
        self.room_id = room_id
        self.video_url = video_url
        self.timezone = timezone
        self.max_size = max_size
        self.min_size = min_size
        self.guest_limit = guest_limit
        self.fee_periods = [FeePeriod(None, FeeSchedule.from_dict(fees))]
        self.length_override_reason = length_override_reason
        self.status = GroupStatus.PLANNED
        self.enrolled: list[str] = []
        self.waitlist: list[str] = []
        self.session_ids: list[UUID] = []

    # --- queries ------------------------------------------------------------------------------

    @property
    def currency(self) -> str:
        return self.fee_periods[-1].fees.currency

    @property
    def fees(self) -> FeeSchedule:
        return self.fee_periods[-1].fees

    def fees_for(self, session_start: datetime) -> FeeSchedule:
        return fee_in_force(self.fee_periods, session_start)

    @property
    def free_seats(self) -> int:
        return max(0, self.max_size - len(self.enrolled))

    @property
    def is_active(self) -> bool:
        return self.status not in (GroupStatus.COMPLETED, GroupStatus.CANCELLED)

    @property
    def admission_closes_after(self) -> int | None:
        """The meeting after which newcomers need an override; None: never closes."""
        if self.admission_rule_set:
            return self.admission_rule
        return DEFAULT_ADMISSION_CLOSES_AFTER[self.modality]

    def enrollment_id_of(self, patient_id: str) -> UUID:
        """The patient's enrollment in this group, whether or not it still exists."""
        return enrollment_id(self.id, patient_id)

    @property
    def enrollment_ids(self) -> dict[str, UUID]:
        """Enrollments of the patients enrolled or waitlisted now."""
        return {p: self.enrollment_id_of(p) for p in [*self.enrolled, *self.waitlist]}

    def require_active(self, doing: str) -> None:
        if not self.is_active:
            raise WrongStateError(f"cannot {doing}: the group is {self.status.value}")

    # --- lifecycle ----------------------------------------------------------------------------

    def open(self, actor: str) -> None:
        if self.status is not GroupStatus.PLANNED:
            raise WrongStateError(f"only a planned group can be opened; it is {self.status.value}")
        self._opened(actor=actor)

    def start(self, course_sessions: int, actor: str) -> None:
        if self.status is not GroupStatus.OPEN:
            raise WrongStateError(
                f"only an open group can start; it is {self.status.value}"
                + (" (open it for enrollment first)" if self.status is GroupStatus.PLANNED else "")
            )
        if len(self.enrolled) < self.min_size:
            raise CapacityError(
                f"the group needs at least {self.min_size} enrolled patients to start; "
                f"it has {len(self.enrolled)}"
            )
        check_course_can_start(self.modality, course_sessions, self.length_override_reason)
        self._started(actor=actor)

    def complete(self, actor: str) -> None:
        if self.status is not GroupStatus.RUNNING:
            raise WrongStateError(
                f"only a running group can be completed; it is {self.status.value}"
            )
        self._completed(actor=actor)

    def cancel(self, reason: str, actor: str) -> None:
        self.require_active("cancel the group")
        self._cancelled(reason=reason, actor=actor)

    class Opened(Aggregate.Event):
        actor: str

    @event(Opened)
    def _opened(self, actor: str) -> None:
        self.status = GroupStatus.OPEN

    class Started(Aggregate.Event):
        actor: str

    @event(Started)
    def _started(self, actor: str) -> None:
        self.status = GroupStatus.RUNNING

    class Completed(Aggregate.Event):
        actor: str

    @event(Completed)
    def _completed(self, actor: str) -> None:
        self.status = GroupStatus.COMPLETED

    class Cancelled(Aggregate.Event):
        reason: str
        actor: str

    @event(Cancelled)
    def _cancelled(self, reason: str, actor: str) -> None:
        self.status = GroupStatus.CANCELLED
        self.enrolled = []
        self.waitlist = []

    # --- settings -----------------------------------------------------------------------------

    def change_fees(self, fees: FeeSchedule, effective_from: datetime, actor: str) -> None:
        self.require_active("change fees")
        if fees.currency != self.currency:
            raise InvalidInputError(
                f"the group bills in {self.currency}; fees cannot switch to {fees.currency}",
                field="currency",
            )
        last = self.fee_periods[-1].effective_from
        if last is not None and effective_from < last:
            raise InvalidInputError(
                "a fee change cannot take effect before the previous change", field="effective_from"
            )
        self._fees_changed(fees=fees.as_dict(), effective_from=effective_from, actor=actor)

    class FeesChanged(Aggregate.Event):
        fees: dict[str, Any]
        effective_from: datetime
        actor: str

    @event(FeesChanged)
    def _fees_changed(self, fees: dict[str, Any], effective_from: datetime, actor: str) -> None:
        self.fee_periods = [
            *self.fee_periods,
            FeePeriod(effective_from, FeeSchedule.from_dict(fees)),
        ]

    def change_capacity(self, max_size: int, min_size: int, guest_limit: int, actor: str) -> None:
        self.require_active("change capacity")
        check_sizes(max_size, min_size, guest_limit)
        if max_size < len(self.enrolled):
            raise CapacityError(
                f"max_size {max_size} is below the {len(self.enrolled)} patients already enrolled"
            )
        self._capacity_changed(
            max_size=max_size, min_size=min_size, guest_limit=guest_limit, actor=actor
        )

    class CapacityChanged(Aggregate.Event):
        max_size: int
        min_size: int
        guest_limit: int
        actor: str

    @event(CapacityChanged)
    def _capacity_changed(self, max_size: int, min_size: int, guest_limit: int, actor: str) -> None:
        self.max_size = max_size
        self.min_size = min_size
        self.guest_limit = guest_limit

    def change_admission_rule(self, closes_after: int | None, actor: str) -> None:
        self.require_active("change when the group closes to newcomers")
        if closes_after != self.admission_closes_after:
            self._admission_rule_changed(admission_closes_after=closes_after, actor=actor)

    class AdmissionRuleChanged(Aggregate.Event):
        admission_closes_after: int | None
        actor: str

    @event(AdmissionRuleChanged)
    def _admission_rule_changed(self, admission_closes_after: int | None, actor: str) -> None:
        self.admission_rule_set = True
        self.admission_rule = admission_closes_after

    def rename(self, name: str, actor: str) -> None:
        self.require_active("rename the group")
        if name != self.name:
            self._renamed(name=name, actor=actor)

    class Renamed(Aggregate.Event):
        name: str
        actor: str

    @event(Renamed)
    def _renamed(self, name: str, actor: str) -> None:
        self.name = name

    def change_video_url(self, video_url: str | None, actor: str) -> None:
        self.require_active("change the video link")
        if video_url != self.video_url:
            self._video_url_changed(video_url=video_url, actor=actor)

    class VideoUrlChanged(Aggregate.Event):
        video_url: str | None
        actor: str

    @event(VideoUrlChanged)
    def _video_url_changed(self, video_url: str | None, actor: str) -> None:
        self.video_url = video_url

    def record_length_override(self, reason: str, actor: str) -> None:
        """Allow the course past its modality's bounds (SPEC §2), with the reason why.

        Its own event, so the history shows who allowed it and when; a new reason replaces
        the old one. There is no clearing it: sessions planned under it stay planned.
        """
        self.require_active("override the course length")
        if reason != self.length_override_reason:
            self._length_override_recorded(reason=reason, actor=actor)

    class LengthOverrideRecorded(Aggregate.Event):
        reason: str
        actor: str

    @event(LengthOverrideRecorded)
    def _length_override_recorded(self, reason: str, actor: str) -> None:
        self.length_override_reason = reason

    # --- roster -------------------------------------------------------------------------------

    def admit(
        self,
        patient_id: str,
        admission: Admission,
        override_reason: str | None,
        actor: str,
    ) -> bool:
        """Enroll if a seat is free, else waitlist. Returns True when enrolled.

        Needs an open or running group; once the group has closed to newcomers, an
        ``override_reason`` (recorded on the event) is needed as well.
        """
        self.require_active("enroll patients")
        if self.status not in ADMITTING:
            raise WrongStateError(
                f"patients can be enrolled only in an open or running group; group "
                f"'{self.name}' is {self.status.value}"
                + (" (open it for enrollment first)" if self.status is GroupStatus.PLANNED else "")
            )
        if patient_id in self.enrolled or patient_id in self.waitlist:
            raise DuplicateError(
                f"patient {patient_id} is already "
                f"{'enrolled in' if patient_id in self.enrolled else 'on the waitlist of'} "
                f"group '{self.name}'",
                enrollment_id=str(self.enrollment_id_of(patient_id)),
            )
        override = admission.require_open_or_override(override_reason, "enroll a patient")
        seated = self.free_seats > 0
        self._admitted(
            patient_id=patient_id,
            enrollment_id=self.enrollment_id_of(patient_id),
            seated=seated,
            actor=actor,
            admission_override_reason=override,
        )
        return seated

    class PatientAdmitted(Aggregate.Event):
        patient_id: str
        enrollment_id: UUID
        seated: bool
        actor: str
        admission_override_reason: str | None

    @event(PatientAdmitted)
    def _admitted(
        self,
        patient_id: str,
        enrollment_id: UUID,
        seated: bool,
        actor: str,
        admission_override_reason: str | None = None,
    ) -> None:
        if seated:
            self.enrolled = [*self.enrolled, patient_id]
        else:
            self.waitlist = [*self.waitlist, patient_id]

    def _may_promote(self, admission: Admission, override_reason: str | None) -> bool:
        return self.status in ADMITTING and (not admission.closed or bool(override_reason))

    def release(
        self,
        patient_id: str,
        admission: Admission,
        override_reason: str | None,
        actor: str,
    ) -> str | None:
        """Take a patient off the roster or waitlist; returns the patient promoted, if any.

        A freed seat goes to the first on the waitlist, unless the group has closed to
        newcomers and no override reason is given: then the waitlist keeps waiting.
        """
        if patient_id not in self.enrolled and patient_id not in self.waitlist:
            raise WrongStateError(f"patient {patient_id} is not in group '{self.name}'")
        promoted = None
        override = None
        if (
            patient_id in self.enrolled
            and self.waitlist
            and self._may_promote(admission, override_reason)
        ):
            promoted = self.waitlist[0]
            override = override_reason if admission.closed else None
        self._released(
            patient_id=patient_id,
            promoted=promoted,
            actor=actor,
            admission_override_reason=override,
        )
        return promoted

    class PatientReleased(Aggregate.Event):
        patient_id: str
        promoted: str | None
        actor: str
        admission_override_reason: str | None

    @event(PatientReleased)
    def _released(
        self,
        patient_id: str,
        promoted: str | None,
        actor: str,
        admission_override_reason: str | None = None,
    ) -> None:
        self.enrolled = [p for p in self.enrolled if p != patient_id]
        self.waitlist = [p for p in self.waitlist if p != patient_id]
        if promoted is not None:
            self.waitlist = [p for p in self.waitlist if p != promoted]
            self.enrolled = [*self.enrolled, promoted]

    def fill_free_seats(
        self, admission: Admission, override_reason: str | None, actor: str
    ) -> list[str]:
        """Seat waitlisted patients, first come first served, while seats are free.

        Returns the patients promoted: none while the group is closed to newcomers, unless an
        override reason is given.
        """
        if not self.waitlist or not self.free_seats:
            return []
        if not self._may_promote(admission, override_reason):
            return []
        promoted = self.waitlist[: self.free_seats]
        self._waitlist_promoted(
            patient_ids=promoted,
            actor=actor,
            admission_override_reason=override_reason if admission.closed else None,
        )
        return promoted

    class WaitlistPromoted(Aggregate.Event):
        patient_ids: list[str]
        actor: str
        admission_override_reason: str | None

    @event(WaitlistPromoted)
    def _waitlist_promoted(
        self, patient_ids: list[str], actor: str, admission_override_reason: str | None
    ) -> None:
        self.waitlist = [p for p in self.waitlist if p not in patient_ids]
        self.enrolled = [*self.enrolled, *patient_ids]

    # --- sessions -----------------------------------------------------------------------------

    def add_sessions(self, session_ids: list[UUID], actor: str) -> None:
        self.require_active("plan sessions")
        self._sessions_added(session_ids=session_ids, actor=actor)

    class SessionsAdded(Aggregate.Event):
        session_ids: list[UUID]
        actor: str

    @event(SessionsAdded)
    def _sessions_added(self, session_ids: list[UUID], actor: str) -> None:
        self.session_ids = [*self.session_ids, *session_ids]
