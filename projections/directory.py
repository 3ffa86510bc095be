"""Directory: the list of groups and each group's enrollments, for paged API listings.

Lists page by keyset: each item carries a ``cursor`` (its notification position, which is
creation order); pass it back as ``after`` for the next page.

With ``CIPHER_KEY`` the group's name and modality, the patient's name and problem area and
the display copy of the patient id are sealed; ``view_enrollments.patient_id`` and
``view_group_facilitators.therapist_id`` hold blind indexes, which lookups use
(:mod:`projections.sealing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.enrollment import Enrollment
from domain.group import TherapyGroup
from domain.values import GroupStatus
from projections.base import Projection, enum_value, timestamp
from projections.db import Tx, ViewDatabase

DDL = [
    """CREATE TABLE IF NOT EXISTS view_groups (
        group_id TEXT PRIMARY KEY, name TEXT NOT NULL, modality TEXT NOT NULL,
        format TEXT NOT NULL, status TEXT NOT NULL, timezone TEXT NOT NULL,
        currency TEXT NOT NULL, max_size INTEGER NOT NULL, min_size INTEGER NOT NULL,
        guest_limit INTEGER NOT NULL, enrolled_count INTEGER NOT NULL,
        waitlist_count INTEGER NOT NULL, session_count INTEGER NOT NULL,
        created_at {instant} NOT NULL, seq {bigint} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS view_groups_seq ON view_groups (seq)",
    """CREATE TABLE IF NOT EXISTS view_enrollments (
        enrollment_id TEXT PRIMARY KEY, group_id TEXT NOT NULL, patient_id TEXT NOT NULL,
        patient_name TEXT NOT NULL, status TEXT NOT NULL, enrolled_at {instant},
        ended_at {instant}, primary_area TEXT, seq {bigint} NOT NULL,
        patient_id_sealed TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS view_enrollments_group ON view_enrollments (group_id, seq)",
    "CREATE INDEX IF NOT EXISTS view_enrollments_patient ON view_enrollments (patient_id)",
    """CREATE TABLE IF NOT EXISTS view_group_facilitators (
        therapist_id TEXT NOT NULL, group_id TEXT NOT NULL,
        PRIMARY KEY (therapist_id, group_id))""",
]
TABLES = ["view_groups", "view_enrollments", "view_group_facilitators"]
SEALED = {
    "view_groups": ("name", "modality"),
    "view_enrollments": ("patient_name", "primary_area", "patient_id_sealed"),
}


def _group_created(tx: Tx, nid: int, e: TherapyGroup.Created) -> None:
    seal = tx.sealer.seal
    tx.execute(
        "INSERT INTO view_groups VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            str(e.originator_id), seal(e.name, "name"),
            seal(enum_value(e.modality), "modality"), enum_value(e.format),
            "planned", e.timezone, e.fees["currency"], e.max_size, e.min_size, e.guest_limit,
            0, 0, 0, tx.dialect.instant(timestamp(e)), nid,
        ),
    )  # fmt: skip
    tx.executemany(
        "INSERT INTO view_group_facilitators VALUES (?,?)",
        [(tx.sealer.index(t, "therapist"), str(e.originator_id)) for t in e.facilitator_ids],
    )


def _group_status(tx: Tx, e: TherapyGroup.Event, status: GroupStatus) -> None:
    tx.execute(
        "UPDATE view_groups SET status=? WHERE group_id=?", (status.value, str(e.originator_id))
    )


def _group_opened(tx: Tx, nid: int, e: TherapyGroup.Opened) -> None:
    _group_status(tx, e, GroupStatus.OPEN)


def _group_started(tx: Tx, nid: int, e: TherapyGroup.Started) -> None:
    _group_status(tx, e, GroupStatus.RUNNING)


def _group_completed(tx: Tx, nid: int, e: TherapyGroup.Completed) -> None:
    _group_status(tx, e, GroupStatus.COMPLETED)


def _group_cancelled(tx: Tx, nid: int, e: TherapyGroup.Cancelled) -> None:
    _group_status(tx, e, GroupStatus.CANCELLED)


def _group_renamed(tx: Tx, nid: int, e: TherapyGroup.Renamed) -> None:
    tx.execute(
        "UPDATE view_groups SET name=? WHERE group_id=?",
        (tx.sealer.seal(e.name, "name"), str(e.originator_id)),
    )


def _capacity(tx: Tx, nid: int, e: TherapyGroup.CapacityChanged) -> None:
    tx.execute(
        "UPDATE view_groups SET max_size=?, min_size=?, guest_limit=? WHERE group_id=?",
        (e.max_size, e.min_size, e.guest_limit, str(e.originator_id)),
    )


def _sessions_added(tx: Tx, nid: int, e: TherapyGroup.SessionsAdded) -> None:
    tx.execute(
        "UPDATE view_groups SET session_count=session_count+? WHERE group_id=?",
        (len(e.session_ids), str(e.originator_id)),
    )


def _recount(tx: Tx, group_id: str) -> None:
    tx.execute(
        "UPDATE view_groups SET"
        " enrolled_count=(SELECT COUNT(*) FROM view_enrollments WHERE group_id=? AND status="
        "'enrolled'), waitlist_count=(SELECT COUNT(*) FROM view_enrollments WHERE group_id=?"
        " AND status='waitlisted') WHERE group_id=?",
        (group_id, group_id, group_id),
    )


def _enrollment_created(tx: Tx, nid: int, e: Enrollment.Created) -> None:
    d, s = tx.dialect, tx.sealer
    tx.execute(
        "INSERT INTO view_enrollments VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            str(e.originator_id), str(e.group_id), s.index(e.patient_id, "patient"),
            s.seal(e.patient_name, "patient_name"), enum_value(e.status),
            d.instant(e.enrolled_at), None, None, nid, s.seal(e.patient_id, "patient_id_sealed"),
        ),
    )  # fmt: skip
    _recount(tx, str(e.group_id))


def _update_enrollment(tx: Tx, e: Enrollment.Event, sets: str, params: tuple[Any, ...]) -> None:
    """Change the enrollment's row (``sets``, an SQL SET list), then its group's counts."""
    row = tx.one(
        f"UPDATE view_enrollments SET {sets} WHERE enrollment_id=? RETURNING group_id",
        (*params, str(e.originator_id)),
    )
    assert row is not None
    _recount(tx, row[0])


def _enrollment_promoted(tx: Tx, nid: int, e: Enrollment.Promoted) -> None:
    _update_enrollment(
        tx, e, "status='enrolled', enrolled_at=?", (tx.dialect.instant(e.enrolled_at),)
    )


def _enrollment_withdrawn(tx: Tx, nid: int, e: Enrollment.Withdrawn) -> None:
    _update_enrollment(tx, e, "status='withdrawn', ended_at=?", (tx.dialect.instant(e.at),))


def _enrollment_completed(tx: Tx, nid: int, e: Enrollment.Completed) -> None:
    _update_enrollment(tx, e, "status='completed', ended_at=?", (tx.dialect.instant(e.at),))


def _enrollment_rejoined(tx: Tx, nid: int, e: Enrollment.Rejoined) -> None:
    # Back on the waitlist means at its end: the new position in the log orders it.
    status = enum_value(e.status)
    seated = tx.dialect.instant(e.at) if status == "enrolled" else None
    _update_enrollment(
        tx, e, "status=?, enrolled_at=?, ended_at=NULL, seq=?", (status, seated, nid)
    )


def _intake(tx: Tx, nid: int, e: Enrollment.IntakeRecorded) -> None:
    tx.execute(
        "UPDATE view_enrollments SET primary_area=? WHERE enrollment_id=?",
        (tx.sealer.seal(enum_value(e.primary_area), "primary_area"), str(e.originator_id)),
    )


def projection() -> Projection:
    return Projection(
        "directory",
        DDL,
        TABLES,
        sealed=SEALED,
        handlers={
            TherapyGroup.Created: _group_created,
            TherapyGroup.Opened: _group_opened,
            TherapyGroup.Started: _group_started,
            TherapyGroup.Completed: _group_completed,
            TherapyGroup.Cancelled: _group_cancelled,
            TherapyGroup.Renamed: _group_renamed,
            TherapyGroup.CapacityChanged: _capacity,
            TherapyGroup.SessionsAdded: _sessions_added,
            Enrollment.Created: _enrollment_created,
            Enrollment.Promoted: _enrollment_promoted,
            Enrollment.Withdrawn: _enrollment_withdrawn,
            Enrollment.Completed: _enrollment_completed,
            Enrollment.Rejoined: _enrollment_rejoined,
            Enrollment.IntakeRecorded: _intake,
        },
    )


@dataclass(frozen=True)
class GroupSummary:
    group_id: UUID
    name: str
    modality: str
    format: str
    status: str
    timezone: str
    currency: str
    max_size: int
    min_size: int
    guest_limit: int
    enrolled_count: int
    waitlist_count: int
    session_count: int
    created_at: datetime
    cursor: str


@dataclass(frozen=True)
class EnrollmentSummary:
    enrollment_id: UUID
    group_id: UUID
    patient_id: str
    patient_name: str
    status: str
    enrolled_at: datetime | None
    ended_at: datetime | None
    primary_area: str | None
    waitlist_position: int | None  # 1 = next to be seated
    cursor: str


ENROLLMENT_SQL = (
    "SELECT e.enrollment_id, e.group_id, e.patient_id_sealed, e.patient_name, e.status,"
    " e.enrolled_at, e.ended_at, e.primary_area, CASE WHEN e.status = 'waitlisted' THEN"
    " (SELECT COUNT(*) FROM view_enrollments w WHERE w.group_id = e.group_id"
    " AND w.status = 'waitlisted' AND w.seq <= e.seq) END, e.seq FROM view_enrollments e"
)

# Positions of sealed values in the rows the queries read (view_groups is read with *).
GROUP_SEALED = {1: "name", 2: "modality"}
ENROLLMENT_SEALED = {2: "patient_id_sealed", 3: "patient_name", 7: "primary_area"}


class DirectoryView:
    def __init__(self, db: ViewDatabase) -> None:
        self.db = db

    def _group(self, row: tuple[Any, ...]) -> GroupSummary:
        row = self.db.sealer.open_row(row, GROUP_SEALED)
        created = self.db.dialect.to_instant(row[13])
        assert created is not None
        return GroupSummary(
            UUID(row[0]), row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
            row[9], row[10], row[11], row[12], created, str(row[14]),
        )  # fmt: skip

    def groups(
        self,
        after: str | None = None,
        limit: int = 50,
        status: str | None = None,
        modality: str | None = None,
        therapist_id: str | None = None,
    ) -> list[GroupSummary]:
        """Groups in creation order, optionally of one status, modality or facilitator.

        The modality is sealed (it may say more than a clinic wants on disk), so it is
        compared once opened, reading on in batches until ``limit`` rows match."""
        sql = "SELECT g.* FROM view_groups g WHERE g.seq > ?"
        args: list[Any] = []
        if status is not None:
            sql += " AND g.status = ?"
            args.append(status)
        if therapist_id is not None:
            sql += (
                " AND EXISTS (SELECT 1 FROM view_group_facilitators f"
                " WHERE f.group_id = g.group_id AND f.therapist_id = ?)"
            )
            args.append(self.db.sealer.index(therapist_id, "therapist"))
        sql += f" ORDER BY g.seq LIMIT {int(limit)}"
        found: list[GroupSummary] = []
        seq = int(after or 0)
        with self.db.read() as tx:
            while True:
                rows = tx.all(sql, [seq, *args])
                for row in rows:
                    group = self._group(row)
                    if modality is None or group.modality == modality:
                        found.append(group)
                        if len(found) == limit:
                            return found
                if len(rows) < limit:
                    return found
                seq = int(rows[-1][14])

    def group(self, group_id: UUID | str) -> GroupSummary | None:
        with self.db.read() as tx:
            row = tx.one("SELECT * FROM view_groups WHERE group_id = ?", (str(group_id),))
        return None if row is None else self._group(row)

    def _enrollment(self, row: tuple[Any, ...]) -> EnrollmentSummary:
        row = self.db.sealer.open_row(row, ENROLLMENT_SEALED)
        d = self.db.dialect
        return EnrollmentSummary(
            UUID(row[0]), UUID(row[1]), row[2], row[3], row[4], d.to_instant(row[5]),
            d.to_instant(row[6]), row[7], row[8], str(row[9]),
        )  # fmt: skip

    def enrollments(
        self,
        group_id: UUID | str,
        after: str | None = None,
        limit: int = 50,
        status: str | None = None,
    ) -> list[EnrollmentSummary]:
        sql = ENROLLMENT_SQL + " WHERE e.group_id = ? AND e.seq > ?"
        args: list[Any] = [str(group_id), int(after or 0)]
        if status is not None:
            sql += " AND e.status = ?"
            args.append(status)
        sql += f" ORDER BY e.seq LIMIT {int(limit)}"
        with self.db.read() as tx:
            return [self._enrollment(r) for r in tx.all(sql, args)]

    def enrollment(self, enrollment_id: UUID | str) -> EnrollmentSummary | None:
        with self.db.read() as tx:
            row = tx.one(ENROLLMENT_SQL + " WHERE e.enrollment_id = ?", (str(enrollment_id),))
        return None if row is None else self._enrollment(row)

    def patient_has_enrollment(self, patient_id: str) -> bool:
        """Whether the patient was ever enrolled or waitlisted in any group."""
        with self.db.read() as tx:
            row = tx.one(
                "SELECT 1 FROM view_enrollments WHERE patient_id = ? LIMIT 1",
                (self.db.sealer.index(patient_id, "patient"),),
            )
        return row is not None

    def therapist_facilitates_a_group(self, therapist_id: str) -> bool:
        """Whether the therapist is a facilitator of any group, whatever its state."""
        with self.db.read() as tx:
            row = tx.one(
                "SELECT 1 FROM view_group_facilitators WHERE therapist_id = ? LIMIT 1",
                (self.db.sealer.index(therapist_id, "therapist"),),
            )
        return row is not None

    def enrollments_for_patient(self, patient_id: str) -> list[EnrollmentSummary]:
        key = self.db.sealer.index(patient_id, "patient")
        with self.db.read() as tx:
            rows = tx.all(ENROLLMENT_SQL + " WHERE e.patient_id = ? ORDER BY e.seq", (key,))
        return [self._enrollment(r) for r in rows]
