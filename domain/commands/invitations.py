"""Significant-other invitations: propose, approve, consent, send, answer, revoke."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.bounds import clean_id, local_datetime
from domain.commands.base import CirclesBase, reason_text, retrying, text
from domain.errors import InvalidInputError, NotPermittedError, WrongStateError
from domain.group import TherapyGroup
from domain.invitation import Invitation
from domain.session import TherapySession


def email(value: Any) -> str | None:
    if value is None:
        return None
    address = text(value, "invitee_email", 254)
    local, _, domain = address.partition("@")
    if not local or "." not in domain or " " in address:
        raise InvalidInputError(f"{address!r} is not an email address", field="invitee_email")
    return address


class InvitationCommands(CirclesBase):
    def get_invitation(self, invitation_id: Any) -> Invitation:
        return self._get(Invitation, invitation_id, "invitation", fresh=True)

    @retrying
    def propose_invitation(
        self,
        session_id: Any,
        actor: str,
        patient_id: Any,
        invitee_name: Any,
        relationship: Any,
        invitee_email: Any = None,
        expected_version: int | None = None,
    ) -> UUID:
        session = self._get(TherapySession, session_id, "session", expected_version)
        group = self._get(TherapyGroup, session.group_id, "group")
        pid = clean_id(patient_id, "patient_id")
        if pid not in group.enrolled:
            raise WrongStateError(f"patient {pid} is not enrolled in group '{group.name}'")
        invitation = Invitation(
            session_id=session.id,
            group_id=group.id,
            patient_id=pid,
            invitee_name=text(invitee_name, "invitee_name"),
            relationship=text(relationship, "relationship", 100),
            invitee_email=email(invitee_email),
            session_starts_at=session.starts_at,
            actor=actor,
        )
        session.hold_guest_place(invitation.id, group.guest_limit, self.clock(), actor)
        self.save(session, invitation)
        return invitation.id

    @retrying
    def approve_invitation(
        self,
        invitation_id: Any,
        actor: str,
        therapist_id: Any,
        expected_version: int | None = None,
    ) -> Invitation:
        invitation = self._get(Invitation, invitation_id, "invitation", expected_version)
        group = self._get(TherapyGroup, invitation.group_id, "group")
        tid = clean_id(therapist_id, "therapist_id")
        if tid not in group.facilitator_ids:
            raise NotPermittedError(
                f"therapist {tid} does not facilitate this invitation's group and cannot approve"
            )
        invitation.approve(tid, actor)
        self.save(invitation)
        return invitation

    @retrying
    def record_consent(
        self,
        invitation_id: Any,
        actor: str,
        signed_by: Any,
        signed_at: Any,
        document_ref: Any,
        expected_version: int | None = None,
    ) -> Invitation:
        invitation = self._get(Invitation, invitation_id, "invitation", expected_version)
        group = self._get(TherapyGroup, invitation.group_id, "group")
        signed = local_datetime(signed_at, group.timezone, "signed_at", not_after=self.clock())
        invitation.record_consent(
            text(signed_by, "signed_by"),
            signed,
            text(document_ref, "document_ref", 200),
            actor,
        )
        self.save(invitation)
        return invitation

    # Sending an invitation issues the invitee's private link with it: see
    # TokenCommands.send_invitation.

    @retrying
    def respond_to_invitation(self, invitation_id: Any, accept: bool, actor: str) -> Invitation:
        invitation = self._get(Invitation, invitation_id, "invitation")
        invitation.respond(accept, self.clock(), actor)
        changed: list[Any] = [invitation]
        if not accept:
            session = self._get(TherapySession, invitation.session_id, "session")
            session.free_guest_place(invitation.id, actor)
            changed.append(session)
        self.save(*changed)
        return invitation

    @retrying
    def revoke_invitation(
        self, invitation_id: Any, actor: str, reason: Any, expected_version: int | None = None
    ) -> Invitation:
        why = reason_text(reason)
        invitation = self._get(Invitation, invitation_id, "invitation", expected_version)
        invitation.revoke(why, self.clock(), actor)
        session = self._get(TherapySession, invitation.session_id, "session")
        session.free_guest_place(invitation.id, actor)
        self.save(invitation, session)
        return invitation
