"""Feed and invitation-link tokens: issue (rotating the previous one), revoke, look up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from domain.bounds import clean_id
from domain.commands.base import CirclesBase, retrying
from domain.errors import InvalidInputError, NotFoundError
from domain.invitation import Invitation
from domain.tokens import (
    FeedSubject,
    FeedSubjects,
    FeedToken,
    SubjectKind,
    digest,
    looks_like_token,
    new_token,
)
from domain.values import parse_enum

INVITEE = "invitee"


@dataclass(frozen=True)
class IssuedToken:
    """The plain token exists only here, on its way to the one response that shows it."""

    token: str
    record: FeedToken


class TokenCommands(CirclesBase):
    def _prepare_token(
        self, kind: SubjectKind, subject_id: str, actor: str
    ) -> tuple[IssuedToken, list[Aggregate]]:
        """A new token for the subject and the aggregates to save with it (old one rotated)."""
        plain = new_token()
        token = FeedToken(digest(plain), kind, subject_id, actor)
        try:
            found: Aggregate = self.repository.get(FeedSubject.create_id(kind, subject_id))
            assert isinstance(found, FeedSubject)
            subject = found
        except AggregateNotFoundError:
            subject = FeedSubject(kind, subject_id, actor)
        changed: list[Aggregate] = [token, subject]
        if subject.current_token_id is not None:
            previous = self._get(FeedToken, subject.current_token_id, "feed token")
            previous.rotate(token.id, actor)
            changed.append(previous)
        subject.point_to(token.id, actor)
        return IssuedToken(plain, token), changed

    @retrying
    def issue_feed_token(
        self, kind: Any, subject_id: Any, actor: str, subjects: FeedSubjects
    ) -> IssuedToken:
        """A patient's or therapist's feed token; their previous one stops working.

        Refused (not found) for a patient never enrolled or waitlisted in any group, and a
        therapist who facilitates no group: a typo would hand out a link that stays empty.
        """
        kind = parse_enum(SubjectKind, kind, "subject_kind")
        if kind is SubjectKind.INVITATION:
            raise InvalidInputError(
                "invitation links are issued when the invitation is sent", field="subject_kind"
            )
        field = f"{kind.value}_id"
        subject = clean_id(subject_id, field)
        if kind is SubjectKind.PATIENT and not subjects.patient_has_enrollment(subject):
            raise NotFoundError(
                f"patient {subject!r} has never been enrolled or waitlisted in any group: "
                "check the id (a feed for them would stay empty)",
                reason="never-enrolled",
                patient_id=subject,
            )
        if kind is SubjectKind.THERAPIST and not subjects.therapist_facilitates_a_group(subject):
            raise NotFoundError(
                f"therapist {subject!r} facilitates no group: check the id (a feed for them "
                "would stay empty until they are a group's facilitator)",
                reason="facilitates-no-group",
                therapist_id=subject,
            )
        issued, changed = self._prepare_token(kind, subject, actor)
        self.save(*changed)
        return issued

    @retrying
    def send_invitation(
        self,
        invitation_id: Any,
        actor: str,
        expected_version: int | None = None,
        before_save: Callable[[Invitation, IssuedToken], None] | None = None,
    ) -> tuple[Invitation, IssuedToken]:
        """Send the invitation and issue the invitee's private link, in one transaction.

        ``before_save`` sees the plain token before the events are saved: the outbox keeps
        the link for the invitee's message there (the event store keeps only its hash)."""
        invitation = self._get(Invitation, invitation_id, "invitation", expected_version)
        invitation.send(self.clock(), actor)
        issued, changed = self._prepare_token(SubjectKind.INVITATION, str(invitation.id), actor)
        if before_save is not None:
            before_save(invitation, issued)
        self.save(invitation, *changed)
        return invitation, issued

    def get_feed_token(self, token_id: Any) -> FeedToken:
        return self._get(FeedToken, token_id, "feed token")

    def current_feed_token(self, kind: Any, subject_id: Any) -> FeedToken | None:
        """The patient's or therapist's latest token, live or revoked; None if never issued.

        Only its record (when, whether revoked): the link itself is never stored."""
        kind = parse_enum(SubjectKind, kind, "subject_kind")
        subject = clean_id(subject_id, f"{kind.value}_id")
        try:
            found: Aggregate = self.repository.get(FeedSubject.create_id(kind, subject))
        except AggregateNotFoundError:
            return None
        assert isinstance(found, FeedSubject)
        if found.current_token_id is None:
            return None
        return self._get(FeedToken, found.current_token_id, "feed token")

    @retrying
    def revoke_feed_token(
        self, token_id: Any, actor: str, expected_version: int | None = None
    ) -> FeedToken:
        token = self._get(FeedToken, token_id, "feed token", expected_version)
        token.revoke(actor)
        self.save(token)
        return token

    def find_feed_token(self, plain: str) -> FeedToken | None:
        """The live token matching ``plain``; None for unknown and revoked alike."""
        if not looks_like_token(plain):
            return None
        token_hash = digest(plain)
        try:
            found: Aggregate = self.repository.get(FeedToken.create_id(token_hash))
        except AggregateNotFoundError:
            return None
        if not isinstance(found, FeedToken) or not found.matches(token_hash) or found.revoked:
            return None
        return found

    def invitee_actor(self, token: FeedToken) -> str:
        """How events name an invitee who answers through their link (never the token)."""
        return f"{INVITEE} of invitation {token.subject_id}"
