"""Attendance: the roster of each session, per-patient rates and the at-risk flag, group rates.

Rate = (present + late) / recorded. At risk is the domain's rule
(``domain.enrollment.two_no_shows_in_a_row``) over the patient's recorded sessions in one
group, by session start; a patient is at risk when any of their groups flags them, a
group when any of its patients is. An advance cancellation counts as recorded (excused or
late_cancel) until a correction replaces it; a session the clinic cancels drops it.
The roster reads the calendars' membership and invitation tables (same database, same
batch) to list everyone expected, with what was recorded for them.

With ``CIPHER_KEY`` a patient's ``person_id`` is their blind index (lookups and the joins
with the calendars' members use it) and ``person_id_sealed`` the sealed id shown in
reports; names are sealed in the tables they come from, so the roster orders by name
after opening them, not in SQL (:mod:`projections.sealing`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from uuid import UUID

from domain.enrollment import two_no_shows_in_a_row
from domain.session import TherapySession
from domain.values import AttendanceStatus
from projections.base import Projection, enum_value, timestamp
from projections.calendars import scheduled_in_batch, session_facts
from projections.db import Tx, ViewDatabase

DDL = [
    """CREATE TABLE IF NOT EXISTS view_attendance (
        session_id TEXT NOT NULL, kind TEXT NOT NULL, person_id TEXT NOT NULL,
        group_id TEXT NOT NULL, session_starts_at {instant} NOT NULL, status TEXT NOT NULL,
        recorded_at {instant} NOT NULL, person_id_sealed TEXT NOT NULL,
        PRIMARY KEY (session_id, kind, person_id))""",
    "CREATE INDEX IF NOT EXISTS view_attendance_person ON view_attendance (person_id)",
    "CREATE INDEX IF NOT EXISTS view_attendance_group ON view_attendance (group_id)",
]
TABLES = ["view_attendance"]
SEALED = {"view_attendance": ("person_id_sealed",)}
STATUSES = tuple(s.value for s in AttendanceStatus)
# Invitation states that give a guest a place on the roster.
GUEST_PLACES = ("accepted", "attended", "no_show")


def _write_attendance(
    tx: Tx,
    e: TherapySession.AttendanceRecorded
    | TherapySession.AdvanceCancellationRecorded
    | TherapySession.GuestAttendanceRecorded,
    kind: str,
    person: str,
    shown: str,
) -> None:
    """One person's attendance at the session, replacing what was recorded before.
    ``person`` is the key lookups use, ``shown`` the id reports show (sealed)."""
    session = str(e.originator_id)
    group_id, _, starts_at, _, _ = session_facts(tx, session)
    tx.cache[("attendance rows", session)] = True
    tx.execute(
        "INSERT INTO view_attendance VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (session_id, kind,"
        " person_id) DO UPDATE SET status=excluded.status, recorded_at=excluded.recorded_at",
        (
            session, kind, person, group_id, starts_at, enum_value(e.status),
            tx.dialect.instant(timestamp(e)), tx.sealer.seal(shown, "person_id_sealed"),
        ),
    )  # fmt: skip


def _patient_attendance_recorded(
    tx: Tx,
    nid: int,
    e: TherapySession.AttendanceRecorded | TherapySession.AdvanceCancellationRecorded,
) -> None:
    """A patient's attendance, or their cancellation ahead of the session (both events)."""
    _write_attendance(tx, e, "patient", tx.sealer.index(e.patient_id, "patient"), e.patient_id)


def _guest_attendance_recorded(tx: Tx, nid: int, e: TherapySession.GuestAttendanceRecorded) -> None:
    # A guest is their invitation (no PHI, joined with view_invitations as is).
    guest = str(e.invitation_id)
    _write_attendance(tx, e, "guest", guest, guest)


def _session_cancelled(tx: Tx, nid: int, e: TherapySession.Cancelled) -> None:
    """The session does not take place: advance cancellations for it no longer count."""
    session = str(e.originator_id)
    if scheduled_in_batch(tx, session) and ("attendance rows", session) not in tx.cache:
        return  # scheduled in this batch and nothing recorded for it since: no rows
    tx.execute("DELETE FROM view_attendance WHERE session_id = ? AND kind = 'patient'", (session,))


def _session_rescheduled(tx: Tx, nid: int, e: TherapySession.Rescheduled) -> None:
    """Advance cancellations move with the session: keep the session order true."""
    session = str(e.originator_id)
    if scheduled_in_batch(tx, session) and ("attendance rows", session) not in tx.cache:
        return
    tx.execute(
        "UPDATE view_attendance SET session_starts_at = ? WHERE session_id = ?",
        (tx.dialect.instant(e.starts_at), session),
    )


def projection() -> Projection:
    return Projection(
        "attendance",
        DDL,
        TABLES,
        sealed=SEALED,
        reads=("directory", "calendars"),  # rosters: members, invitations, enrollments
        handlers={
            TherapySession.AttendanceRecorded: _patient_attendance_recorded,
            TherapySession.AdvanceCancellationRecorded: _patient_attendance_recorded,
            TherapySession.GuestAttendanceRecorded: _guest_attendance_recorded,
            TherapySession.Rescheduled: _session_rescheduled,
            TherapySession.Cancelled: _session_cancelled,
        },
    )


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterLine:
    kind: str  # patient | guest
    patient_id: str  # the patient, or for a guest the patient who invited them
    name: str
    status: str | None  # attendance, None while not recorded
    enrollment_id: UUID | None = None
    invitation_id: UUID | None = None
    invitation_status: str | None = None


@dataclass(frozen=True)
class Roster:
    session_id: UUID
    patients: list[RosterLine]
    guests: list[RosterLine]


@dataclass(frozen=True)
class Rate:
    """Counts per attendance status, the rate and the at-risk flag."""

    counts: dict[str, int]
    at_risk: bool

    @property
    def recorded(self) -> int:
        return sum(self.counts.values())

    @property
    def rate(self) -> Decimal | None:
        if not self.recorded:
            return None
        attended = self.counts.get("present", 0) + self.counts.get("late", 0)
        return (Decimal(attended) / Decimal(self.recorded)).quantize(
            Decimal("0.0001"), ROUND_HALF_EVEN
        )


def combined(rates: list[Rate]) -> Rate:
    """Counts added up; at risk when any part is (the rule is per group, never across)."""
    counts = {s: sum(r.counts.get(s, 0) for r in rates) for s in STATUSES}
    return Rate(counts, any(r.at_risk for r in rates))


@dataclass(frozen=True)
class PatientAttendance:
    patient_id: str
    groups: dict[UUID, Rate] = field(default_factory=dict)

    @property
    def overall(self) -> Rate:
        return combined(list(self.groups.values()))

    @property
    def at_risk(self) -> bool:
        return self.overall.at_risk

    @property
    def rate(self) -> Decimal | None:
        return self.overall.rate

    def only(self, group_ids: set[UUID]) -> PatientAttendance:
        """The same patient seen through some of their groups (a therapist's own)."""
        return PatientAttendance(
            self.patient_id, {g: r for g, r in self.groups.items() if g in group_ids}
        )


@dataclass(frozen=True)
class GroupRates:
    group_id: UUID
    patients: dict[str, Rate]

    @property
    def overall(self) -> Rate:
        return combined(list(self.patients.values()))

    @property
    def rate(self) -> Decimal | None:
        return self.overall.rate


def _rate(history: list[tuple[Any, str]]) -> Rate:
    """One patient in one group; ``history``: (session start, status) in session order."""
    statuses = [AttendanceStatus(status) for _, status in history]
    counts = Counter(s.value for s in statuses)
    return Rate({s: counts.get(s, 0) for s in STATUSES}, two_no_shows_in_a_row(statuses))


class AttendanceView:
    def __init__(self, db: ViewDatabase) -> None:
        self.db = db

    def roster(self, session_id: UUID | str) -> Roster | None:
        sid = str(session_id)
        with self.db.read() as tx:
            session = tx.one("SELECT starts_at FROM view_sessions WHERE session_id=?", (sid,))
            if session is None:
                return None
            patients = tx.all(
                "SELECT m.patient_id_sealed, e.patient_name, a.status, m.enrollment_id"
                " FROM view_calendar_members m"
                " JOIN view_sessions s ON s.group_id = m.group_id AND s.session_id = ?"
                " LEFT JOIN view_enrollments e ON e.enrollment_id = m.enrollment_id"
                " LEFT JOIN view_attendance a ON a.session_id = s.session_id"
                "  AND a.kind = 'patient' AND a.person_id = m.patient_id"
                " WHERE (m.valid_from IS NOT NULL AND m.valid_from <= s.starts_at"
                "  AND (m.valid_to IS NULL OR s.starts_at < m.valid_to)) OR a.status IS NOT NULL",
                (sid,),
            )
            guests = tx.all(
                "SELECT i.patient_id, i.invitee_name, a.status, i.invitation_id, i.status"
                " FROM view_invitations i LEFT JOIN view_attendance a ON a.session_id ="
                " i.session_id AND a.kind = 'guest' AND a.person_id = i.invitation_id"
                " WHERE i.session_id = ? AND (i.status IN (?,?,?) OR a.status IS NOT NULL)",
                (sid, *GUEST_PLACES),
            )
        sealer = self.db.sealer
        shown = {0: "patient_id_sealed", 1: "patient_name"}
        patients = [sealer.open_row(r, shown) for r in patients]
        guests = [sealer.open_row(r, {0: "patient_id", 1: "invitee_name"}) for r in guests]
        # Ordered here: the names are sealed, so SQL could only order their ciphertexts.
        return Roster(
            UUID(sid),
            sorted(
                (
                    RosterLine("patient", r[0], r[1] or r[0], r[2], enrollment_id=UUID(r[3]))
                    for r in patients
                ),
                key=lambda line: (line.name, line.patient_id),
            ),
            sorted(
                (
                    RosterLine(
                        "guest", r[0], r[1], r[2], invitation_id=UUID(r[3]), invitation_status=r[4]
                    )
                    for r in guests
                ),
                key=lambda line: (line.name, str(line.invitation_id)),
            ),
        )

    def recorded_counts(self, session_ids: list[UUID] | list[str]) -> dict[str, int]:
        """How many people (patients and guests) have a record at each of these sessions."""
        ids = [str(s) for s in session_ids]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self.db.read() as tx:
            rows = tx.all(
                f"SELECT session_id, COUNT(*) FROM view_attendance WHERE session_id IN ({marks})"
                " GROUP BY session_id",
                ids,
            )
        return {str(r[0]): int(r[1]) for r in rows}

    def _histories(self, where: str, param: str, key: int) -> dict[str, list[tuple[Any, str]]]:
        """Sessions per group (``key`` 0) or per patient id as shown (``key`` 1)."""
        shown = "person_id_sealed" if key == 1 else "person_id"
        with self.db.read() as tx:
            rows = tx.all(
                f"SELECT group_id, {shown}, session_starts_at, status FROM view_attendance"
                f" WHERE kind = 'patient' AND {where} = ? ORDER BY session_starts_at, session_id",
                (param,),
            )
        if key == 1:
            rows = [self.db.sealer.open_row(r, {1: shown}) for r in rows]
        histories: dict[str, list[tuple[Any, str]]] = {}
        for row in rows:
            histories.setdefault(row[key], []).append((row[2], row[3]))
        return histories

    def patient(self, patient_id: str) -> PatientAttendance:
        """The patient's rate per group and overall, and whether any group flags them."""
        histories = self._histories("person_id", self.db.sealer.index(patient_id, "patient"), 0)
        return PatientAttendance(
            patient_id, {UUID(group): _rate(history) for group, history in histories.items()}
        )

    def group_rates(self, group_id: UUID | str) -> GroupRates:
        histories = self._histories("group_id", str(group_id), 1)
        return GroupRates(
            UUID(str(group_id)),
            {patient: _rate(history) for patient, history in sorted(histories.items())},
        )
