"""Feed tokens as domain events: issue, rotate, revoke, look up by hash only."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from domain.application import Circles
from domain.errors import InvalidInputError, NotFoundError
from domain.tokens import FeedSubject, FeedSubjects, FeedToken, SubjectKind, digest


@dataclass
class Known:
    """A fake of the directory view's answers (the real one is tested over HTTP)."""

    patients: set[str] = field(default_factory=lambda: {"p-1", "t-ana"})
    therapists: set[str] = field(default_factory=lambda: {"t-ana"})

    def patient_has_enrollment(self, patient_id: str) -> bool:
        return patient_id in self.patients

    def therapist_facilitates_a_group(self, therapist_id: str) -> bool:
        return therapist_id in self.therapists


KNOWN: FeedSubjects = Known()


def test_a_token_is_found_by_its_hash_and_stored_only_as_one(app: Circles) -> None:
    issued = app.issue_feed_token("patient", "p-1", "coordinator A", KNOWN)
    assert len(issued.token) >= 43  # 256 bits, url-safe base64
    found = app.find_feed_token(issued.token)
    assert found is not None and found.id == issued.record.id
    assert (found.subject_kind, found.subject_id) == (SubjectKind.PATIENT, "p-1")
    assert found.id == FeedToken.create_id(digest(issued.token))
    for event in app.history(found.id):
        assert issued.token not in repr(vars(event))
    assert (
        app.find_feed_token(issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")) is None
    )
    assert app.find_feed_token("") is None
    assert app.find_feed_token("x" * 500) is None


def test_issuing_again_rotates_and_revoking_stops_the_token(app: Circles) -> None:
    first = app.issue_feed_token("therapist", "t-ana", "coordinator A", KNOWN)
    second = app.issue_feed_token("therapist", "t-ana", "coordinator B", KNOWN)
    assert app.find_feed_token(first.token) is None  # rotated: indistinguishable from unknown
    assert app.find_feed_token(second.token) is not None
    subject = app.repository.get(FeedSubject.create_id(SubjectKind.THERAPIST, "t-ana"))
    assert subject.current_token_id == second.record.id
    old = app.history(first.record.id)
    assert [type(e).__name__ for e in old] == ["Issued", "Rotated"]
    assert old[-1].actor == "coordinator B" and old[-1].replaced_by == second.record.id
    app.revoke_feed_token(second.record.id, "coordinator C")
    assert app.find_feed_token(second.token) is None
    assert app.history(second.record.id)[-1].actor == "coordinator C"
    # Other subjects are untouched.
    other = app.issue_feed_token("patient", "t-ana", "coordinator A", KNOWN)
    assert app.find_feed_token(other.token) is not None


def test_refusals(app: Circles) -> None:
    with pytest.raises(InvalidInputError):
        app.issue_feed_token("invitation", "x", "c", KNOWN)
    with pytest.raises(InvalidInputError):
        app.issue_feed_token("nobody", "x", "c", KNOWN)
    with pytest.raises(InvalidInputError):
        app.issue_feed_token("patient", "  ", "c", KNOWN)
    with pytest.raises(NotFoundError):
        app.revoke_feed_token("00000000-0000-4000-8000-000000000000", "c")


def test_a_feed_token_needs_a_patient_enrolled_somewhere_or_a_therapist_who_facilitates(
    app: Circles,
) -> None:
    known = Known(patients={"p-1"}, therapists={"t-ana"})
    with pytest.raises(NotFoundError, match="never been enrolled") as refused:
        app.issue_feed_token("patient", "p-l", "coordinator A", known)  # a typo of p-1
    assert refused.value.details == {"reason": "never-enrolled", "patient_id": "p-l"}
    with pytest.raises(NotFoundError, match="facilitates no group") as refused:
        app.issue_feed_token("therapist", "t-anna", "coordinator A", known)
    assert refused.value.details["reason"] == "facilitates-no-group"
    with pytest.raises(NotFoundError):  # a patient id is not a therapist's, and back
        app.issue_feed_token("therapist", "p-1", "coordinator A", known)
    with pytest.raises(NotFoundError):
        app.issue_feed_token("patient", "t-ana", "coordinator A", known)
    assert app.issue_feed_token("patient", "p-1", "coordinator A", known).token
    assert app.issue_feed_token("therapist", "t-ana", "coordinator A", known).token


def test_the_current_token_is_the_latest_record_never_the_link(app: Circles) -> None:
    assert app.current_feed_token("patient", "p-1") is None
    first = app.issue_feed_token("patient", "p-1", "coordinator A", KNOWN)
    current = app.current_feed_token("patient", " p-1 ")
    assert current is not None and current.id == first.record.id and not current.revoked
    second = app.issue_feed_token("patient", "p-1", "coordinator A", KNOWN)
    current = app.current_feed_token("patient", "p-1")
    assert current is not None and current.id == second.record.id
    app.revoke_feed_token(second.record.id, "coordinator B")
    current = app.current_feed_token("patient", "p-1")
    assert current is not None and current.revoked and current.replaced_by is None
    assert app.current_feed_token("therapist", "p-1") is None  # another subject
    with pytest.raises(InvalidInputError):
        app.current_feed_token("patient", "")
    with pytest.raises(InvalidInputError):
        app.current_feed_token("nobody", "p-1")
