"""The outbox (SPEC §9): messages derived from the events by a tracked process, and their
delivery state.

**Filling.** :meth:`Outbox.catch_up` reads the notification log after its own tracking
position and, per batch, writes the messages the events call for *and* the new position
in one transaction: each event gives its messages once, and a crash resumes where the last
commit left off. The outbox tracks apart from the views (its own tables and position), so
rebuilding the views never touches it; and each message's id is a ``uuid5`` of the event
(aggregate id, version) and the message's kind, inserted with ``ON CONFLICT DO NOTHING``,
so filling the same events again (a lost tracking row, a restored backup) cannot make a
second message or reset the delivery state of one already sent.

**The invitee's link.** The token in ``/i/{token}`` is issued when the invitation is sent,
and the event store keeps only its hash. The send command hands the plain token to
:meth:`Outbox.keep_link` *before* it saves its events (``before_save``), which stores the
link sealed (``CIPHER_KEY``) under the token's id; the ``FeedToken`` ``Issued`` event then
releases it into the invitation's message. A link kept for a save that failed is never
released (its token does not exist). An ``Issued`` event with no kept link (events
imported from elsewhere) gives a message that has failed for good, saying why — shown, not
dropped.

**Delivery state.** A message is ``pending`` until a sender delivers it (``sent``), gives
up (``failed``), or is told to retry later (still ``pending``, with ``next_attempt_at``);
each attempt is a row of ``outbox_attempts``. A sender leases a message before sending, so
two workers do not send it at the same moment; a worker that dies after sending but
before recording leaves the lease to expire and the message is sent again, with the same
``Message-ID`` (at least once).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.utils import get_topic

from domain.invitation import Invitation
from domain.tokens import FeedToken, SubjectKind
from projections.base import timestamp
from projections.db import Tx, ViewDatabase

MESSAGES = uuid.uuid5(uuid.NAMESPACE_URL, "https://circles.invalid/outbox-message")
TRACKING = "outbox"
BATCH_SIZE = 500

DDL = [
    "CREATE TABLE IF NOT EXISTS outbox_tracking ("
    " name TEXT PRIMARY KEY, position {bigint} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS outbox_invitees ("
    " invitation_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, email TEXT,"
    " sent INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS outbox_links ("
    " token_id TEXT PRIMARY KEY, invitation_id TEXT NOT NULL, link TEXT NOT NULL,"
    " kept_at {instant} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS outbox_messages ("
    " message_id TEXT PRIMARY KEY, kind TEXT NOT NULL, invitation_id TEXT,"
    " session_id TEXT, recipient TEXT, body TEXT, created_at {instant} NOT NULL,"
    " status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_at {instant}, lease_until {instant}, sent_at {instant}, last_error TEXT)",
    "CREATE INDEX IF NOT EXISTS outbox_messages_due ON outbox_messages (status, next_attempt_at)",
    "CREATE INDEX IF NOT EXISTS outbox_messages_invitation ON outbox_messages (invitation_id)",
    "CREATE TABLE IF NOT EXISTS outbox_attempts ("
    " message_id TEXT NOT NULL, attempt INTEGER NOT NULL, at {instant} NOT NULL,"
    " outcome TEXT NOT NULL, detail TEXT, PRIMARY KEY (message_id, attempt))",
]

PENDING, SENT, FAILED, DEFERRED = "pending", "sent", "failed", "deferred"


class Kind:
    INVITATION = "invitation"
    REVOKED = "invitation-revoked"
    MOVED = "session-moved"
    CANCELLED = "session-cancelled"


@dataclass(frozen=True)
class Letter:
    """What one message says, before it is written out as an email."""

    message_id: UUID
    kind: str
    invitation_id: UUID
    session_id: UUID
    recipient: str
    starts_at: datetime | None  # the session's (new) start, when the event names it
    link: str | None  # the invitee's /i/{token} URL, on the invitation itself
    written_at: datetime  # the event's time: the message's Date (filling again, same text)


Compose = Callable[[Letter], str]  # the whole message (RFC 5322 text), Message-ID included


@dataclass(frozen=True)
class Message:
    message_id: UUID
    kind: str
    recipient: str
    body: str
    attempts: int


@dataclass(frozen=True)
class Delivery:
    """A message's delivery state, as the invitation's JSON shows it."""

    message_id: str
    kind: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Attempt:
    message_id: str
    attempt: int
    at: datetime
    outcome: str  # sent | deferred | failed
    detail: str | None


def message_id(event: Any, kind: str) -> UUID:
    return uuid.uuid5(MESSAGES, f"{event.originator_id}:{event.originator_version}:{kind}")


class Outbox:
    """Fills the outbox from the events and keeps the messages' delivery state."""

    def __init__(
        self,
        app: Application[Any],
        db: ViewDatabase,
        compose: Compose,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.app = app
        self.db = db
        self.compose = compose
        self.batch_size = batch_size
        self.handlers: dict[type, Callable[[Tx, Any], None]] = {
            Invitation.Proposed: self._proposed,
            Invitation.Sent: self._sent,
            FeedToken.Issued: self._link_issued,
            Invitation.Revoked: self._notice(Kind.REVOKED),
            Invitation.SessionMoved: self._notice(Kind.MOVED),
            Invitation.Cancelled: self._notice(Kind.CANCELLED),
        }
        self.topics = sorted(get_topic(cls) for cls in self.handlers)
        with self.db.write() as tx:
            if self.db.is_postgres:  # concurrent CREATE IF NOT EXISTS collide in PostgreSQL
                tx.one("SELECT pg_advisory_xact_lock(?)", (0x4F757462,))
            for statement in DDL:
                tx.execute(self.db.dialect.ddl(statement))
            tx.execute(
                "INSERT INTO outbox_tracking VALUES (?, 0) ON CONFLICT (name) DO NOTHING",
                (TRACKING,),
            )

    # --- the invitee's link -------------------------------------------------------------------

    def keep_link(self, token_id: UUID, invitation_id: UUID, link: str, now: datetime) -> None:
        with self.db.write() as tx:
            tx.execute(
                "INSERT INTO outbox_links VALUES (?,?,?,?) ON CONFLICT (token_id) DO NOTHING",
                (str(token_id), str(invitation_id), tx.sealer.seal(link, "link"),
                 self.db.dialect.instant(now)),
            )  # fmt: skip

    def forget_links_kept_before(self, moment: datetime) -> int:
        """Links kept for a send whose events were never saved (a refused or failed save;
        a saved one is released within a fill): their tokens do not exist."""
        with self.db.write() as tx:
            tx.execute(
                "DELETE FROM outbox_links WHERE kept_at < ?", (self.db.dialect.instant(moment),)
            )
            return tx.rowcount

    # --- filling ------------------------------------------------------------------------------

    def position(self) -> int:
        with self.db.read() as tx:
            row = tx.one("SELECT position FROM outbox_tracking WHERE name=?", (TRACKING,))
        return 0 if row is None else int(row[0])

    def step(self) -> bool:
        """Fill from at most one batch of events. False when there was nothing to do."""
        expected = self.position()
        head = int(self.app.recorder.max_notification_id() or 0)
        if head <= expected:
            return False
        notifications = self.app.recorder.select_notifications(
            start=expected, limit=self.batch_size, stop=head, topics=self.topics,
            inclusive_of_start=False,
        )  # fmt: skip
        reached = notifications[-1].id if len(notifications) == self.batch_size else head
        events = [self.app.mapper.to_domain_event(n) for n in notifications]
        suffix = " FOR UPDATE" if self.db.is_postgres else ""
        with self.db.write(pipeline=False) as tx:
            row = tx.one(f"SELECT position FROM outbox_tracking WHERE name=?{suffix}", (TRACKING,))
            if row is None or int(row[0]) != expected:
                return True  # another process filled these: read again from there
            for event in events:
                self.handlers[type(event)](tx, event)
            tx.execute("UPDATE outbox_tracking SET position=? WHERE name=?", (reached, TRACKING))
        return True

    def catch_up(self) -> int:
        while self.step():
            pass
        return self.position()

    def _proposed(self, tx: Tx, event: Invitation.Proposed) -> None:
        tx.execute(
            "INSERT INTO outbox_invitees VALUES (?,?,?,0) ON CONFLICT (invitation_id) DO NOTHING",
            (str(event.originator_id), str(event.session_id),
             tx.sealer.seal(event.invitee_email, "email")),
        )  # fmt: skip

    def _sent(self, tx: Tx, event: Invitation.Sent) -> None:
        tx.execute(
            "UPDATE outbox_invitees SET sent=1 WHERE invitation_id=?", (str(event.originator_id),)
        )

    def _invitee(self, tx: Tx, invitation_id: str) -> tuple[UUID, str | None, bool] | None:
        row = tx.one(
            "SELECT session_id, email, sent FROM outbox_invitees WHERE invitation_id=?",
            (invitation_id,),
        )
        if row is None:
            return None
        return UUID(row[0]), tx.sealer.open(row[1], "email"), bool(row[2])

    def _link_issued(self, tx: Tx, event: FeedToken.Issued) -> None:
        if getattr(event.subject_kind, "value", event.subject_kind) != SubjectKind.INVITATION.value:
            return
        invitee = self._invitee(tx, str(event.subject_id))
        session_id, email = (None, None) if invitee is None else invitee[:2]
        if session_id is None or email is None:  # the coordinator passes the link by hand
            tx.execute("DELETE FROM outbox_links WHERE token_id=?", (str(event.originator_id),))
            return
        row = tx.one("SELECT link FROM outbox_links WHERE token_id=?", (str(event.originator_id),))
        link = None if row is None else tx.sealer.open(row[0], "link")
        letter = Letter(
            message_id(event, Kind.INVITATION), Kind.INVITATION, UUID(str(event.subject_id)),
            session_id, email, None, link, timestamp(event),
        )  # fmt: skip
        if link is None:
            self._add(tx, letter, timestamp(event), None,
                      "the invitee's link was not kept when the invitation was sent")  # fmt: skip
        else:
            self._add(tx, letter, timestamp(event), self.compose(letter), None)
        # The link is in the message now (sealed); it is not kept twice.
        tx.execute("DELETE FROM outbox_links WHERE token_id=?", (str(event.originator_id),))

    def _notice(self, kind: str) -> Callable[[Tx, Any], None]:
        def handle(tx: Tx, event: Any) -> None:
            invitee = self._invitee(tx, str(event.originator_id))
            if invitee is None:
                return
            session_id, email, sent = invitee
            if not sent or email is None:
                return  # never sent, or no email: the invitee has heard nothing to correct
            letter = Letter(
                message_id(event, kind), kind, event.originator_id, session_id, email,
                getattr(event, "starts_at", None), None, timestamp(event),
            )  # fmt: skip
            self._add(tx, letter, timestamp(event), self.compose(letter), None)

        return handle

    def _add(
        self, tx: Tx, letter: Letter, at: datetime, body: str | None, error: str | None
    ) -> None:
        instant = self.db.dialect.instant
        tx.execute(
            "INSERT INTO outbox_messages (message_id, kind, invitation_id, session_id,"
            " recipient, body, created_at, status, next_attempt_at, last_error)"
            " VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (message_id) DO NOTHING",
            (str(letter.message_id), letter.kind, str(letter.invitation_id),
             str(letter.session_id), tx.sealer.seal(letter.recipient, "recipient"),
             tx.sealer.seal(body, "body"), instant(at), FAILED if error else PENDING,
             None if error else instant(at), tx.sealer.seal(error, "last_error")),
        )  # fmt: skip

    # --- delivery -----------------------------------------------------------------------------

    def lease_due(self, now: datetime, lease: timedelta, limit: int = 20) -> list[Message]:
        """Pending messages whose next attempt is due, leased to the caller for ``lease``."""
        instant = self.db.dialect.instant
        skip = " FOR UPDATE SKIP LOCKED" if self.db.is_postgres else ""
        with self.db.write(pipeline=False) as tx:
            rows = tx.all(
                "SELECT message_id, kind, recipient, body, attempts FROM outbox_messages"
                " WHERE status=? AND next_attempt_at <= ?"
                " AND (lease_until IS NULL OR lease_until <= ?)"
                f" ORDER BY next_attempt_at, message_id LIMIT ?{skip}",
                (PENDING, instant(now), instant(now), limit),
            )
            tx.executemany(
                "UPDATE outbox_messages SET lease_until=? WHERE message_id=?",
                [(instant(now + lease), r[0]) for r in rows],
            )
        opened = self.db.sealer.open
        return [
            Message(UUID(r[0]), r[1], opened(r[2], "recipient") or "", opened(r[3], "body") or "",
                    int(r[4]))
            for r in rows
        ]  # fmt: skip

    def record(
        self, message: Message, now: datetime, outcome: str, detail: str | None,
        retry_at: datetime | None = None,
    ) -> None:  # fmt: skip
        """One attempt and its outcome: ``sent``, ``deferred`` (until ``retry_at``) or
        ``failed`` (for good)."""
        instant = self.db.dialect.instant
        status = {SENT: SENT, DEFERRED: PENDING, FAILED: FAILED}[outcome]
        with self.db.write() as tx:
            seal = tx.sealer.seal
            tx.execute(
                "UPDATE outbox_messages SET status=?, attempts=attempts+1, lease_until=NULL,"
                " next_attempt_at=?, sent_at=?, last_error=? WHERE message_id=?",
                (status, instant(retry_at) if status == PENDING else None,
                 instant(now) if status == SENT else None, seal(detail, "last_error"),
                 str(message.message_id)),
            )  # fmt: skip
            tx.execute(
                "INSERT INTO outbox_attempts VALUES (?,"
                " (SELECT COALESCE(MAX(attempt), 0) + 1 FROM outbox_attempts WHERE message_id=?),"
                " ?,?,?)",
                (str(message.message_id), str(message.message_id), instant(now), outcome,
                 seal(detail, "detail")),
            )  # fmt: skip

    # --- reading ------------------------------------------------------------------------------

    def deliveries(self, invitation_id: UUID | str) -> list[Delivery]:
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT message_id, kind, status, attempts, created_at, next_attempt_at,"
                " sent_at, last_error FROM outbox_messages WHERE invitation_id=?"
                " ORDER BY created_at, message_id",
                (str(invitation_id),),
            )
        to_instant, opened = self.db.dialect.to_instant, self.db.sealer.open
        return [
            Delivery(r[0], r[1], r[2], int(r[3]), to_instant(r[4]) or r[4], to_instant(r[5]),
                     to_instant(r[6]), opened(r[7], "last_error"))
            for r in rows
        ]  # fmt: skip

    def attempts(self, message_ids: Iterable[str]) -> list[Attempt]:
        """Every attempt at the given messages, in order."""
        ids = list(message_ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT message_id, attempt, at, outcome, detail FROM outbox_attempts"
                f" WHERE message_id IN ({marks}) ORDER BY message_id, attempt",
                ids,
            )
        to_instant, opened = self.db.dialect.to_instant, self.db.sealer.open
        return [
            Attempt(r[0], int(r[1]), to_instant(r[2]) or r[2], r[3], opened(r[4], "detail"))
            for r in rows
        ]
