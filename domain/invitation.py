"""A significant-other invitation to one session, from proposal to attendance."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import WrongStateError
from domain.values import InvitationStatus

S = InvitationStatus


class Invitation(Aggregate):
    class Proposed(Aggregate.Created):
        session_id: UUID
        group_id: UUID
        patient_id: str
        invitee_name: str
        relationship: str
        invitee_email: str | None
        session_starts_at: datetime
        actor: str

    @event(Proposed)
    def __init__(
        self,
        session_id: UUID,
        group_id: UUID,
        patient_id: str,
        invitee_name: str,
        relationship: str,
        invitee_email: str | None,
        session_starts_at: datetime,
        actor: str,
    ) -> None:
        self.session_id = session_id
        self.group_id = group_id
        self.patient_id = patient_id
        self.invitee_name = invitee_name
        self.relationship = relationship
        self.invitee_email = invitee_email
        self.session_starts_at = session_starts_at
        self.status = S.PROPOSED
        self.approved_by: str | None = None
        self.consent: dict[str, str] | None = None
        self.session_cancelled = False

    def _require(self, doing: str, *allowed: InvitationStatus) -> None:
        if self.status not in allowed:
            raise WrongStateError(f"cannot {doing}: the invitation is {self.status.value}")

    def approve(self, therapist_id: str, actor: str) -> None:
        self._require("approve", S.PROPOSED)
        self._approved(therapist_id=therapist_id, actor=actor)

    class Approved(Aggregate.Event):
        therapist_id: str
        actor: str

    @event(Approved)
    def _approved(self, therapist_id: str, actor: str) -> None:
        self.status = S.APPROVED
        self.approved_by = therapist_id

    def record_consent(
        self, signed_by: str, signed_at: datetime, document_ref: str, actor: str
    ) -> None:
        if self.status is S.PROPOSED:
            raise WrongStateError(
                "consent is recorded after a facilitator has approved the invitation"
            )
        self._require("record consent", S.APPROVED)
        self._consent_recorded(
            signed_by=signed_by, signed_at=signed_at, document_ref=document_ref, actor=actor
        )

    class ConsentRecorded(Aggregate.Event):
        signed_by: str
        signed_at: datetime
        document_ref: str
        actor: str

    @event(ConsentRecorded)
    def _consent_recorded(
        self, signed_by: str, signed_at: datetime, document_ref: str, actor: str
    ) -> None:
        self.status = S.CONSENTED
        self.consent = {
            "signed_by": signed_by,
            "signed_at": signed_at.isoformat(),
            "document_ref": document_ref,
        }

    def send(self, now: datetime, actor: str) -> None:
        if self.status in (S.PROPOSED, S.APPROVED):
            missing = "facilitator approval" if self.status is S.PROPOSED else "written consent"
            raise WrongStateError(f"the invitation cannot be sent before {missing}")
        self._require("send", S.CONSENTED)
        if now >= self.session_starts_at:
            raise WrongStateError("the session has already started")
        self._sent(actor=actor)

    class Sent(Aggregate.Event):
        actor: str

    @event(Sent)
    def _sent(self, actor: str) -> None:
        self.status = S.SENT

    def respond(self, accept: bool, now: datetime, actor: str) -> None:
        self._require("respond", S.SENT)
        if now >= self.session_starts_at:
            raise WrongStateError("the session has already started")
        if accept:
            self._accepted(actor=actor)
        else:
            self._declined(actor=actor)

    class Accepted(Aggregate.Event):
        actor: str

    @event(Accepted)
    def _accepted(self, actor: str) -> None:
        self.status = S.ACCEPTED

    class Declined(Aggregate.Event):
        actor: str

    @event(Declined)
    def _declined(self, actor: str) -> None:
        self.status = S.DECLINED

    def revoke(self, reason: str, now: datetime, actor: str) -> None:
        """The patient withdraws consent: allowed at any time before the session."""
        self._require("revoke", S.PROPOSED, S.APPROVED, S.CONSENTED, S.SENT, S.ACCEPTED)
        if now >= self.session_starts_at:
            raise WrongStateError("consent can be revoked only before the session starts")
        self._revoked(reason=reason, actor=actor)

    class Revoked(Aggregate.Event):
        reason: str
        actor: str

    @event(Revoked)
    def _revoked(self, reason: str, actor: str) -> None:
        self.status = S.REVOKED

    def follow_session(self, starts_at: datetime, actor: str) -> None:
        if self.status.holds_a_place:
            self._session_moved(starts_at=starts_at, actor=actor)

    class SessionMoved(Aggregate.Event):
        starts_at: datetime
        actor: str

    @event(SessionMoved)
    def _session_moved(self, starts_at: datetime, actor: str) -> None:
        self.session_starts_at = starts_at

    def cancel_with_session(self, actor: str) -> None:
        if self.status.holds_a_place:
            self._cancelled(actor=actor)

    class Cancelled(Aggregate.Event):
        actor: str

    @event(Cancelled)
    def _cancelled(self, actor: str) -> None:
        self.status = S.CANCELLED
        self.session_cancelled = True

    def record_attendance(self, attended: bool, actor: str) -> None:
        self._require("record the guest's attendance", S.ACCEPTED, S.ATTENDED, S.NO_SHOW)
        new = S.ATTENDED if attended else S.NO_SHOW
        if new is not self.status:
            self._attendance_recorded(attended=attended, actor=actor)

    class AttendanceRecorded(Aggregate.Event):
        attended: bool
        actor: str

    @event(AttendanceRecorded)
    def _attendance_recorded(self, attended: bool, actor: str) -> None:
        self.status = S.ATTENDED if attended else S.NO_SHOW
