"""Calendars: sessions per group, patient, therapist, room and invitee (SPEC §3, §4).

Each session row carries what an iCalendar feed needs: a stable id (the UID), the UTC
instant plus the IANA zone name, status, a sequence that grows on every reschedule or
cancel, and the instant of the last change. A patient's sessions are found through their
enrollment's validity interval, so a reschedule or a withdrawal moves them in or out of the
feed without rewriting per-patient rows.

With ``CIPHER_KEY`` (:mod:`projections.sealing`): the patient and therapist ids that are
looked up or joined on (``view_calendar_members.patient_id``,
``view_session_facilitators.therapist_id``) hold blind indexes; the facilitator list, the
video link and the invitation's patient id, invitee name and relationship are sealed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.enrollment import Enrollment
from domain.group import TherapyGroup
from domain.invitation import Invitation
from domain.session import TherapySession
from domain.values import EnrollmentStatus, add_elapsed
from projections.base import Projection, enum_value, keyset, make_cursor, text_id, timestamp
from projections.db import Dialect, Tx, ViewDatabase
from projections.sealing import IDENTITY, Sealer

DDL = [
    """CREATE TABLE IF NOT EXISTS view_sessions (
        session_id TEXT PRIMARY KEY, group_id TEXT NOT NULL, number INTEGER NOT NULL,
        kind TEXT NOT NULL, starts_at {instant} NOT NULL, ends_at {instant} NOT NULL,
        duration_minutes INTEGER NOT NULL, timezone TEXT NOT NULL, status TEXT NOT NULL,
        sequence INTEGER NOT NULL, last_modified {instant} NOT NULL, room_id TEXT,
        video_url TEXT, facilitator_ids TEXT NOT NULL, make_up_for TEXT)""",
    "CREATE INDEX IF NOT EXISTS view_sessions_group ON view_sessions (group_id, starts_at)",
    "CREATE INDEX IF NOT EXISTS view_sessions_room ON view_sessions (room_id, starts_at)",
    """CREATE TABLE IF NOT EXISTS view_session_facilitators (
        therapist_id TEXT NOT NULL, session_id TEXT NOT NULL,
        PRIMARY KEY (therapist_id, session_id))""",
    """CREATE TABLE IF NOT EXISTS view_calendar_members (
        enrollment_id TEXT NOT NULL, period INTEGER NOT NULL, patient_id TEXT NOT NULL,
        group_id TEXT NOT NULL, valid_from {instant}, valid_to {instant},
        patient_id_sealed TEXT NOT NULL, PRIMARY KEY (enrollment_id, period))""",
    "CREATE INDEX IF NOT EXISTS view_members_patient ON view_calendar_members (patient_id)",
    """CREATE TABLE IF NOT EXISTS view_invitations (
        invitation_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, group_id TEXT NOT NULL,
        patient_id TEXT NOT NULL, invitee_name TEXT NOT NULL, relationship TEXT NOT NULL,
        status TEXT NOT NULL, revision INTEGER NOT NULL, last_modified {instant} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS view_invitations_session ON view_invitations (session_id)",
]
TABLES = ["view_sessions", "view_session_facilitators", "view_calendar_members", "view_invitations"]
SEALED = {
    "view_sessions": ("video_url", "facilitator_ids"),
    "view_calendar_members": ("patient_id_sealed",),
    "view_invitations": ("patient_id", "invitee_name", "relationship"),
}

# An invitation in one of these states shows its session as cancelled to the invitee.
ENDED_INVITATION = ("revoked", "cancelled", "declined")

COLUMNS = (
    "s.session_id, s.group_id, s.number, s.kind, s.starts_at, s.ends_at, s.duration_minutes, "
    "s.timezone, s.status, s.sequence, s.last_modified, s.room_id, s.video_url, "
    "s.facilitator_ids, s.make_up_for"
)


@dataclass(frozen=True)
class CalendarEntry:
    session_id: UUID
    group_id: UUID
    number: int
    kind: str
    starts_at: datetime  # aware, in ``timezone``
    ends_at: datetime
    duration_minutes: int
    timezone: str
    status: str  # scheduled | cancelled
    sequence: int
    last_modified: datetime
    room_id: str | None
    video_url: str | None
    facilitator_ids: tuple[str, ...]
    make_up_for: UUID | None

    @property
    def cursor(self) -> str:
        return make_cursor(self.starts_at, str(self.session_id))


@dataclass(frozen=True)
class InvitationEntry:
    """The invitee's one session; ``session`` shows it cancelled once the invitation ended."""

    invitation_id: UUID
    status: str
    patient_id: str
    invitee_name: str
    relationship: str
    session: CalendarEntry


# --- projection -------------------------------------------------------------------------------


def session_facts(tx: Tx, session_id: str) -> tuple[Any, ...]:
    """(group_id, kind, starts_at as stored, timezone, status) of a session, for the
    attendance and cost handlers; cached for the batch."""
    key = ("session", session_id)
    facts = tx.cache.get(key)
    if facts is None:
        facts = tx.one(
            "SELECT group_id, kind, starts_at, timezone, status FROM view_sessions"
            " WHERE session_id=?",
            (session_id,),
        )
        assert facts is not None, f"no session {session_id} in the calendar views"
        tx.cache[key] = facts
    return facts


def scheduled_in_batch(tx: Tx, session_id: str) -> bool:
    """Whether the session was scheduled in this batch: then every row about it that other
    views hold was written in this batch too, which lets them skip reading back."""
    return ("scheduled", session_id) in tx.cache


def _ends(starts: datetime, duration_minutes: int) -> datetime:
    """A session's end after its duration of real time (not wall-clock time)."""
    return add_elapsed(starts, timedelta(minutes=duration_minutes))


def _scheduled(tx: Tx, nid: int, e: TherapySession.Scheduled) -> None:
    d, s = tx.dialect, tx.sealer
    starts: datetime = e.starts_at
    tx.cache[("scheduled", str(e.originator_id))] = e.duration_minutes
    tx.execute(
        "INSERT INTO view_sessions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            str(e.originator_id), str(e.group_id), e.number, enum_value(e.kind),
            d.instant(starts), d.instant(_ends(starts, e.duration_minutes)),
            e.duration_minutes, getattr(starts.tzinfo, "key", "UTC"), "scheduled", 0,
            d.instant(timestamp(e)), e.room_id, s.seal(e.video_url, "video_url"),
            s.seal(json.dumps(list(e.facilitator_ids)), "facilitator_ids"), text_id(e.make_up_for),
        ),
    )  # fmt: skip
    tx.cache[("session", str(e.originator_id))] = (
        str(e.group_id), enum_value(e.kind), d.instant(starts),
        getattr(starts.tzinfo, "key", "UTC"), "scheduled",
    )  # fmt: skip
    tx.executemany(
        "INSERT INTO view_session_facilitators VALUES (?,?)",
        [(s.index(f, "therapist"), str(e.originator_id)) for f in e.facilitator_ids],
    )


def _rescheduled(tx: Tx, nid: int, e: TherapySession.Rescheduled) -> None:
    d = tx.dialect
    sid = str(e.originator_id)
    _update_facts(tx, sid, starts_at=d.instant(e.starts_at))
    duration = tx.cache.get(("scheduled", sid))  # nothing else changes the duration
    if duration is None:
        row = tx.one("SELECT duration_minutes FROM view_sessions WHERE session_id=?", (sid,))
        assert row is not None
        duration = row[0]
    tx.execute(
        "UPDATE view_sessions SET starts_at=?, ends_at=?, sequence=sequence+1, last_modified=?"
        " WHERE session_id=?",
        (
            d.instant(e.starts_at), d.instant(_ends(e.starts_at, duration)),
            d.instant(timestamp(e)), sid,
        ),
    )  # fmt: skip


def _update_facts(tx: Tx, session_id: str, **changes: Any) -> None:
    """Change cached session facts as the UPDATE beside it changes the row, so the next
    attendance needs no read (which would also send the queued writes early)."""
    facts = tx.cache.get(("session", session_id))
    if facts is not None:
        group_id, kind, starts_at, timezone, status = facts
        starts_at = changes.get("starts_at", starts_at)
        status = changes.get("status", status)
        tx.cache[("session", session_id)] = (group_id, kind, starts_at, timezone, status)


def _session_cancelled(tx: Tx, nid: int, e: TherapySession.Cancelled) -> None:
    _update_facts(tx, str(e.originator_id), status="cancelled")
    tx.execute(
        "UPDATE view_sessions SET status='cancelled', sequence=sequence+1, last_modified=?"
        " WHERE session_id=?",
        (tx.dialect.instant(timestamp(e)), str(e.originator_id)),
    )


def _video_url_changed(tx: Tx, nid: int, e: TherapyGroup.VideoUrlChanged) -> None:
    # Patients follow the group's current link for sessions still to come.
    at = tx.dialect.instant(timestamp(e))
    tx.execute(
        "UPDATE view_sessions SET video_url=?, last_modified=? WHERE group_id=? AND starts_at>?"
        " AND video_url IS NOT NULL",
        (tx.sealer.seal(e.video_url, "video_url"), at, str(e.originator_id), at),
    )


def _enrolled(status: Any) -> bool:
    return bool(enum_value(status) == EnrollmentStatus.ENROLLED.value)


def _enrollment_created(tx: Tx, nid: int, e: Enrollment.Created) -> None:
    seated = tx.dialect.instant(e.enrolled_at) if _enrolled(e.status) else None
    s = tx.sealer
    tx.execute(
        "INSERT INTO view_calendar_members VALUES (?,?,?,?,?,?,?)",
        (
            str(e.originator_id), 0, s.index(e.patient_id, "patient"), str(e.group_id),
            seated, None, s.seal(e.patient_id, "patient_id_sealed"),
        ),
    )  # fmt: skip


# An enrollment may have several periods (withdrawn, then rejoined): edits touch the last.
LAST_PERIOD = (
    " WHERE enrollment_id=? AND period=(SELECT MAX(period) FROM view_calendar_members"
    " WHERE enrollment_id=?)"
)


def _promoted(tx: Tx, nid: int, e: Enrollment.Promoted) -> None:
    eid = str(e.originator_id)
    tx.execute(
        "UPDATE view_calendar_members SET valid_from=?" + LAST_PERIOD,
        (tx.dialect.instant(e.enrolled_at), eid, eid),
    )


def _ended(tx: Tx, nid: int, e: Enrollment.Withdrawn | Enrollment.Completed) -> None:
    if getattr(e, "with_group", False):
        # The group ended and cancelled its later sessions with it: the patient's calendar
        # keeps them, shown cancelled, instead of dropping them (SPEC §2, §4). No session
        # can be added to an ended group, so the period can stay open.
        return
    eid = str(e.originator_id)
    tx.execute(
        "UPDATE view_calendar_members SET valid_to=?" + LAST_PERIOD,
        (tx.dialect.instant(e.at), eid, eid),
    )


def _rejoined(tx: Tx, nid: int, e: Enrollment.Rejoined) -> None:
    eid = str(e.originator_id)
    seated = tx.dialect.instant(e.at) if _enrolled(e.status) else None
    tx.execute(
        "INSERT INTO view_calendar_members SELECT enrollment_id, period + 1, patient_id,"
        " group_id, ?, NULL, patient_id_sealed FROM view_calendar_members" + LAST_PERIOD,
        (seated, eid, eid),
    )


def _proposed(tx: Tx, nid: int, e: Invitation.Proposed) -> None:
    seal = tx.sealer.seal
    tx.execute(
        "INSERT INTO view_invitations VALUES (?,?,?,?,?,?,?,?,?)",
        (
            str(e.originator_id), str(e.session_id), str(e.group_id),
            seal(e.patient_id, "patient_id"), seal(e.invitee_name, "invitee_name"),
            seal(e.relationship, "relationship"), "proposed", 0,
            tx.dialect.instant(timestamp(e)),
        ),
    )  # fmt: skip


def _set_invitation_status(tx: Tx, e: Invitation.Event, status: str) -> None:
    """The invitation's new status. Ending it shows its session cancelled in the invitee's
    feed, so the entry's revision (added to the session's iCalendar SEQUENCE) grows."""
    bump = 1 if status in ENDED_INVITATION else 0
    tx.execute(
        "UPDATE view_invitations SET status=?, revision=revision+?, last_modified=?"
        " WHERE invitation_id=?",
        (status, bump, tx.dialect.instant(timestamp(e)), str(e.originator_id)),
    )


def _invitation_approved(tx: Tx, nid: int, e: Invitation.Approved) -> None:
    _set_invitation_status(tx, e, "approved")


def _invitation_consented(tx: Tx, nid: int, e: Invitation.ConsentRecorded) -> None:
    _set_invitation_status(tx, e, "consented")


def _invitation_sent(tx: Tx, nid: int, e: Invitation.Sent) -> None:
    _set_invitation_status(tx, e, "sent")


def _invitation_accepted(tx: Tx, nid: int, e: Invitation.Accepted) -> None:
    _set_invitation_status(tx, e, "accepted")


def _invitation_declined(tx: Tx, nid: int, e: Invitation.Declined) -> None:
    _set_invitation_status(tx, e, "declined")


def _invitation_revoked(tx: Tx, nid: int, e: Invitation.Revoked) -> None:
    _set_invitation_status(tx, e, "revoked")


def _invitation_cancelled(tx: Tx, nid: int, e: Invitation.Cancelled) -> None:
    _set_invitation_status(tx, e, "cancelled")


def _guest_attendance(tx: Tx, nid: int, e: Invitation.AttendanceRecorded) -> None:
    _set_invitation_status(tx, e, "attended" if e.attended else "no_show")


def projection() -> Projection:
    return Projection(
        "calendars",
        DDL,
        TABLES,
        sealed=SEALED,
        handlers={
            TherapySession.Scheduled: _scheduled,
            TherapySession.Rescheduled: _rescheduled,
            TherapySession.Cancelled: _session_cancelled,
            TherapyGroup.VideoUrlChanged: _video_url_changed,
            Enrollment.Created: _enrollment_created,
            Enrollment.Promoted: _promoted,
            Enrollment.Withdrawn: _ended,
            Enrollment.Completed: _ended,
            Enrollment.Rejoined: _rejoined,
            Invitation.Proposed: _proposed,
            Invitation.Approved: _invitation_approved,
            Invitation.ConsentRecorded: _invitation_consented,
            Invitation.Sent: _invitation_sent,
            Invitation.Accepted: _invitation_accepted,
            Invitation.Declined: _invitation_declined,
            Invitation.Revoked: _invitation_revoked,
            Invitation.Cancelled: _invitation_cancelled,
            Invitation.AttendanceRecorded: _guest_attendance,
        },
    )


# --- queries ----------------------------------------------------------------------------------


def entry(row: tuple[Any, ...], d: Dialect, sealer: Sealer = IDENTITY) -> CalendarEntry:
    row = sealer.open_row(row, {12: "video_url", 13: "facilitator_ids"})
    tz = ZoneInfo(row[7])
    starts, ends, changed = d.to_instant(row[4]), d.to_instant(row[5]), d.to_instant(row[10])
    assert starts is not None and ends is not None and changed is not None
    return CalendarEntry(
        session_id=UUID(row[0]), group_id=UUID(row[1]), number=row[2], kind=row[3],
        starts_at=starts.astimezone(tz), ends_at=ends.astimezone(tz), duration_minutes=row[6],
        timezone=row[7], status=row[8], sequence=row[9], last_modified=changed,
        room_id=row[11], video_url=row[12], facilitator_ids=tuple(json.loads(row[13])),
        make_up_for=None if row[14] is None else UUID(row[14]),
    )  # fmt: skip


class CalendarView:
    """Read side of the calendars; same SQL on both engines through the dialect."""

    def __init__(self, db: ViewDatabase) -> None:
        self.db = db

    def _sessions(
        self,
        join_where: str,
        params: list[Any],
        since: datetime | None,
        until: datetime | None,
        after: str | None,
        limit: int | None,
    ) -> list[CalendarEntry]:
        d = self.db.dialect
        sql = f"SELECT {COLUMNS} FROM view_sessions s {join_where}"
        args = list(params)
        if since is not None:
            sql += " AND s.starts_at >= ?"
            args.append(d.instant(since))
        if until is not None:
            sql += " AND s.starts_at < ?"
            args.append(d.instant(until))
        more, more_args = keyset(after, d, "s.starts_at", "s.session_id")
        sql += more + " ORDER BY s.starts_at, s.session_id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self.db.read() as tx:
            return [entry(r, d, self.db.sealer) for r in tx.all(sql, args + more_args)]

    def session(self, session_id: UUID | str) -> CalendarEntry | None:
        found = self._sessions("WHERE s.session_id = ?", [str(session_id)], None, None, None, 1)
        return found[0] if found else None

    def sessions_for_group(
        self,
        group_id: UUID | str,
        since: datetime | None = None,
        until: datetime | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[CalendarEntry]:
        return self._sessions("WHERE s.group_id = ?", [str(group_id)], since, until, after, limit)

    def sessions_for_patient(
        self,
        patient_id: str,
        since: datetime | None = None,
        until: datetime | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[CalendarEntry]:
        """Sessions of the groups the patient is enrolled in, from enrollment to its end."""
        where = (
            "JOIN view_calendar_members m ON m.group_id = s.group_id WHERE m.patient_id = ?"
            " AND m.valid_from IS NOT NULL AND m.valid_from <= s.starts_at"
            " AND (m.valid_to IS NULL OR s.starts_at < m.valid_to)"
        )
        key = self.db.sealer.index(patient_id, "patient")
        return self._sessions(where, [key], since, until, after, limit)

    def sessions_for_therapist(
        self,
        therapist_id: str,
        since: datetime | None = None,
        until: datetime | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[CalendarEntry]:
        where = (
            "JOIN view_session_facilitators f ON f.session_id = s.session_id"
            " WHERE f.therapist_id = ?"
        )
        key = self.db.sealer.index(therapist_id, "therapist")
        return self._sessions(where, [key], since, until, after, limit)

    def sessions_for_room(
        self,
        room_id: str,
        since: datetime | None = None,
        until: datetime | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[CalendarEntry]:
        return self._sessions("WHERE s.room_id = ?", [room_id], since, until, after, limit)

    def sessions_between(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[CalendarEntry]:
        """Every group's sessions (cancelled ones too) starting in [since, until)."""
        return self._sessions("WHERE 1 = 1", [], since, until, after, limit)

    def invitations_with_status(self, statuses: list[str]) -> list[InvitationEntry]:
        """Invitations now in one of ``statuses``, by their session's start."""
        return self._invitations("", [], statuses)

    def invitations_for_therapist(
        self, therapist_id: str, statuses: list[str]
    ) -> list[InvitationEntry]:
        """Invitations now in one of ``statuses`` to sessions the therapist facilitates."""
        join = (
            " JOIN view_session_facilitators f ON f.session_id = i.session_id"
            " AND f.therapist_id = ?"
        )
        return self._invitations(join, [self.db.sealer.index(therapist_id, "therapist")], statuses)

    def _invitations(
        self, join: str, args: list[Any], statuses: list[str]
    ) -> list[InvitationEntry]:
        if not statuses:
            return []
        marks = ",".join("?" for _ in statuses)
        with self.db.read() as tx:
            rows = tx.all(
                f"SELECT i.invitation_id FROM view_invitations i{join} WHERE i.status IN ({marks})",
                [*args, *statuses],
            )
        found = [self.session_for_invitation(row[0]) for row in rows]
        return sorted(
            (f for f in found if f is not None), key=lambda f: (f.session.starts_at, f.invitee_name)
        )

    def session_for_invitation(self, invitation_id: UUID | str) -> InvitationEntry | None:
        d = self.db.dialect
        with self.db.read() as tx:
            row = tx.one(
                "SELECT invitation_id, status, patient_id, invitee_name, relationship, revision,"
                " last_modified, session_id FROM view_invitations WHERE invitation_id = ?",
                (str(invitation_id),),
            )
        if row is None:
            return None
        row = self.db.sealer.open_row(row, {2: "patient_id", 3: "invitee_name", 4: "relationship"})
        session = self.session(row[7])
        if session is None:
            return None
        changed = d.to_instant(row[6])
        assert changed is not None
        ended = row[1] in ENDED_INVITATION
        session = replace(
            session,
            status="cancelled" if ended else session.status,
            sequence=session.sequence + row[5],
            last_modified=max(session.last_modified, changed),
        )
        return InvitationEntry(UUID(row[0]), row[1], row[2], row[3], row[4], session)
