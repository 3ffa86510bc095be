"""Feed tokens as domain events: issue, rotate, revoke, look up by hash only."""

from __future__ import annotations

import pytest

from domain.application import Circles
from domain.errors import InvalidInputError, NotFoundError
from domain.tokens import FeedSubject, FeedToken, SubjectKind, digest


def test_a_token_is_found_by_its_hash_and_stored_only_as_one(app: Circles) -> None:
    issued = app.issue_feed_token("patient", "p-1", "coordinator A")
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
    first = app.issue_feed_token("therapist", "t-ana", "coordinator A")
    second = app.issue_feed_token("therapist", "t-ana", "coordinator B")
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
    other = app.issue_feed_token("patient", "t-ana", "coordinator A")
    assert app.find_feed_token(other.token) is not None


def test_refusals(app: Circles) -> None:
    with pytest.raises(InvalidInputError):
        app.issue_feed_token("invitation", "x", "c")
    with pytest.raises(InvalidInputError):
        app.issue_feed_token("nobody", "x", "c")
    with pytest.raises(InvalidInputError):
        app.issue_feed_token("patient", "  ", "c")
    with pytest.raises(NotFoundError):
        app.revoke_feed_token("00000000-0000-4000-8000-000000000000", "c")
