"""Capability tokens for calendar feeds and invitation links (SPEC §4).

A token is 256 random bits handed out once. Only its SHA-256 is kept, and the aggregate
that holds it has an id derived from that hash, so finding a token is one direct load by
id — no scan, no index on the secret — followed by a constant-time comparison of the
stored hash. A ``FeedSubject`` index aggregate per patient, therapist or invitation names
the subject's current token; issuing a new one revokes the previous one in the same
transaction (rotation), so a subject never has two live tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import Enum
from typing import Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_TOKENS = uuid5(NAMESPACE_URL, "https://circles.invalid/feed-token")
_SUBJECTS = uuid5(NAMESPACE_URL, "https://circles.invalid/feed-subject")
TOKEN_BYTES = 32  # 256 bits
# token_urlsafe(32) is 43 characters of [A-Za-z0-9_-]; anything else cannot be a token.
TOKEN_LENGTH = 43


class SubjectKind(Enum):
    PATIENT = "patient"
    THERAPIST = "therapist"
    INVITATION = "invitation"


class FeedSubjects(Protocol):
    """Whom a person's feed can be issued for: the read side answers (the directory view),
    the domain decides. A patient needs an enrollment in some group, in any state
    (waitlisted, seated, withdrawn, completed); a therapist must facilitate some group, in
    any state. Anyone else is almost surely a mistyped id, and their link would stay empty."""

    def patient_has_enrollment(self, patient_id: str) -> bool: ...

    def therapist_facilitates_a_group(self, therapist_id: str) -> bool: ...


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_token(token: str) -> bool:
    return len(token) == TOKEN_LENGTH and all(
        c.isascii() and (c.isalnum() or c in "-_") for c in token
    )


class FeedToken(Aggregate):
    """One issued token: whose feed it opens, and whether it still does."""

    @staticmethod
    def create_id(token_hash: str) -> UUID:
        return uuid5(_TOKENS, token_hash)

    class Issued(Aggregate.Created):
        token_hash: str
        subject_kind: SubjectKind
        subject_id: str
        actor: str

    @event(Issued)
    def __init__(
        self, token_hash: str, subject_kind: SubjectKind, subject_id: str, actor: str
    ) -> None:
        self.token_hash = token_hash
        self.subject_kind = subject_kind
        self.subject_id = subject_id
        self.revoked = False
        self.replaced_by: UUID | None = None

    def matches(self, token_hash: str) -> bool:
        return hmac.compare_digest(self.token_hash, token_hash)

    def rotate(self, replaced_by: UUID, actor: str) -> None:
        if not self.revoked:
            self._rotated(replaced_by=replaced_by, actor=actor)

    class Rotated(Aggregate.Event):
        replaced_by: UUID
        actor: str

    @event(Rotated)
    def _rotated(self, replaced_by: UUID, actor: str) -> None:
        self.revoked = True
        self.replaced_by = replaced_by

    def revoke(self, actor: str) -> None:
        if not self.revoked:
            self._revoked(actor=actor)

    class Revoked(Aggregate.Event):
        actor: str

    @event(Revoked)
    def _revoked(self, actor: str) -> None:
        self.revoked = True


class FeedSubject(Aggregate):
    """Index aggregate: the current token of one patient, therapist or invitation."""

    @staticmethod
    def create_id(kind: SubjectKind, subject_id: str) -> UUID:
        return uuid5(_SUBJECTS, f"{kind.value}:{subject_id}")

    class Created(Aggregate.Created):
        kind: SubjectKind
        subject_id: str
        actor: str

    @event(Created)
    def __init__(self, kind: SubjectKind, subject_id: str, actor: str) -> None:
        self.kind = kind
        self.subject_id = subject_id
        self.current_token_id: UUID | None = None

    def point_to(self, token_id: UUID, actor: str) -> None:
        self._token_issued(token_id=token_id, actor=actor)

    class TokenIssued(Aggregate.Event):
        token_id: UUID
        actor: str

    @event(TokenIssued)
    def _token_issued(self, token_id: UUID, actor: str) -> None:
        self.current_token_id = token_id
