"""Costs: one charge line per patient per recorded session, and the totals billing reads.

Every amount comes from the domain's ``FeeSchedule.charge`` with the schedule in force at
the session's start (``fee_in_force``). A fee change that arrives after attendance was
recorded for a later session reprices exactly those lines; a corrected attendance replaces
its one line. Amounts are ``Decimal`` end to end: TEXT in SQLite and summed in Python,
NUMERIC in PostgreSQL and summed by the database.

With ``CIPHER_KEY`` a line's ``patient_id`` is the patient's blind index (statements look
it up) and ``patient_id_sealed`` the sealed id a line shows (:mod:`projections.sealing`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.group import TherapyGroup
from domain.session import TherapySession
from domain.values import (
    AttendanceStatus,
    FeePeriod,
    FeeSchedule,
    SessionKind,
    fee_in_force,
    minor_unit,
)
from projections.base import Projection, enum_value
from projections.calendars import scheduled_in_batch, session_facts
from projections.db import Tx, ViewDatabase

DDL = [
    """CREATE TABLE IF NOT EXISTS view_fee_periods (
        group_id TEXT NOT NULL, ordinal INTEGER NOT NULL, effective_from {instant},
        fees TEXT NOT NULL, PRIMARY KEY (group_id, ordinal))""",
    """CREATE TABLE IF NOT EXISTS view_cost_lines (
        session_id TEXT NOT NULL, patient_id TEXT NOT NULL, group_id TEXT NOT NULL,
        session_date {day} NOT NULL, month TEXT NOT NULL, starts_at {instant} NOT NULL,
        kind TEXT NOT NULL, billing_code TEXT NOT NULL, attendance_status TEXT NOT NULL,
        session_cancelled INTEGER NOT NULL, amount {money} NOT NULL, currency TEXT NOT NULL,
        timezone TEXT NOT NULL, patient_id_sealed TEXT NOT NULL,
        PRIMARY KEY (session_id, patient_id))""",
    "CREATE INDEX IF NOT EXISTS view_cost_lines_date ON view_cost_lines (session_date)",
    "CREATE INDEX IF NOT EXISTS view_cost_lines_patient ON view_cost_lines (patient_id)",
    "CREATE INDEX IF NOT EXISTS view_cost_lines_group ON view_cost_lines (group_id, starts_at)",
]
TABLES = ["view_fee_periods", "view_cost_lines"]
SEALED = {"view_cost_lines": ("patient_id_sealed",)}
AMOUNT_FIELDS = ("session_fee", "maintenance_fee", "no_show_fee", "late_cancel_fee")


def _fees_json(fees: dict[str, Any]) -> str:
    return json.dumps({k: str(v) if isinstance(v, Decimal) else v for k, v in fees.items()})


def _schedule(text: str) -> FeeSchedule:
    data = json.loads(text)
    for name in AMOUNT_FIELDS:
        data[name] = Decimal(data[name])
    return FeeSchedule.from_dict(data)


def _periods(tx: Tx, group_id: str) -> list[FeePeriod]:
    key = ("fees", group_id)
    periods: list[FeePeriod] | None = tx.cache.get(key)
    if periods is None:
        rows = tx.all(
            "SELECT effective_from, fees FROM view_fee_periods WHERE group_id=? ORDER BY ordinal",
            (group_id,),
        )
        periods = [FeePeriod(tx.dialect.to_instant(r[0]), _schedule(r[1])) for r in rows]
        tx.cache[key] = periods
    return periods


def _price(
    periods: list[FeePeriod], starts: datetime, kind: str, status: str, cancelled: bool
) -> tuple[Decimal, str, str]:
    """Amount, billing code and currency of one line."""
    fees = fee_in_force(periods, starts)
    amount = fees.charge(SessionKind(kind), AttendanceStatus(status), cancelled)
    return amount, fees.billing_code(SessionKind(kind)), fees.currency


def _reprice(tx: Tx, group_id: str, where: str, params: tuple[Any, ...]) -> None:
    d = tx.dialect
    rows = tx.all(
        "SELECT session_id, patient_id, starts_at, kind, attendance_status, session_cancelled"
        f" FROM view_cost_lines WHERE group_id = ? AND {where}",
        (group_id, *params),
    )
    if not rows:
        return
    periods = _periods(tx, group_id)
    updates = []
    for sid, pid, starts, kind, status, cancelled in rows:
        starts_at = d.to_instant(starts)
        assert starts_at is not None
        amount, code, currency = _price(periods, starts_at, kind, status, bool(cancelled))
        updates.append((d.money(amount), code, currency, sid, pid))
    tx.executemany(
        "UPDATE view_cost_lines SET amount=?, billing_code=?, currency=?"
        " WHERE session_id=? AND patient_id=?",
        updates,
    )


def _group_created(tx: Tx, nid: int, e: TherapyGroup.Created) -> None:
    group, fees = str(e.originator_id), _fees_json(e.fees)
    tx.execute("INSERT INTO view_fee_periods VALUES (?,?,?,?)", (group, 0, None, fees))
    # What reading the periods back would give; and no charge line of the group exists
    # yet, so until one is written in this batch a fee change has nothing to reprice.
    tx.cache[("fees", group)] = [FeePeriod(None, _schedule(fees))]
    tx.cache[("new group", group)] = True


def _fees_changed(tx: Tx, nid: int, e: TherapyGroup.FeesChanged) -> None:
    group = str(e.originator_id)
    periods = _periods(tx, group)
    effective = tx.dialect.instant(e.effective_from)
    fees = _fees_json(e.fees)
    tx.execute(
        "INSERT INTO view_fee_periods VALUES (?,?,?,?)", (group, len(periods), effective, fees)
    )
    # The new list is what reading the table back would give, without the round trip.
    tx.cache[("fees", group)] = [
        *periods,
        FeePeriod(tx.dialect.to_instant(effective), _schedule(fees)),
    ]
    if ("new group", group) in tx.cache and ("group lines", group) not in tx.cache:
        return  # no lines to reprice (see _group_created): spare the read
    _reprice(tx, group, "starts_at > ?", (effective,))


def _local(tx: Tx, starts: Any, tz: str) -> tuple[datetime, Any, str]:
    """(start instant, local day as stored, "YYYY-MM") of a session start; cached per batch."""
    key = ("local", starts, tz)
    found: tuple[datetime, Any, str] | None = tx.cache.get(key)
    if found is None:
        starts_at = tx.dialect.to_instant(starts)
        assert starts_at is not None
        local = starts_at.astimezone(ZoneInfo(tz))
        found = tx.cache[key] = (starts_at, tx.dialect.day(local.date()), f"{local:%Y-%m}")
    return found


def _cached_price(
    tx: Tx, group: str, starts_at: datetime, kind: str, status: str, cancelled: bool
) -> tuple[Decimal, str, str]:
    """``_price`` with the group's current fee periods, remembered for the batch: the same
    session and status recur for every patient. A fee change replaces the periods, hence
    the key (the entry keeps its periods alive, so their id is not reused meanwhile)."""
    periods = _periods(tx, group)
    key = ("price", id(periods), starts_at, kind, status, cancelled)
    found = tx.cache.get(key)
    if found is None:
        found = tx.cache[key] = (periods, _price(periods, starts_at, kind, status, cancelled))
    price: tuple[Decimal, str, str] = found[1]
    return price


def _attendance_recorded(
    tx: Tx,
    nid: int,
    e: TherapySession.AttendanceRecorded | TherapySession.AdvanceCancellationRecorded,
) -> None:
    d = tx.dialect
    sid = str(e.originator_id)
    group, kind, starts, tz, status = session_facts(tx, sid)
    starts_at, day, month = _local(tx, starts, tz)
    cancelled = status == "cancelled"
    attendance = enum_value(e.status)
    amount, code, currency = _cached_price(tx, group, starts_at, kind, attendance, cancelled)
    tx.cache[("group lines", group)] = tx.cache[("session lines", sid)] = True
    s = tx.sealer
    tx.execute(
        "INSERT INTO view_cost_lines VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (session_id,"
        " patient_id) DO UPDATE SET attendance_status=excluded.attendance_status,"
        " amount=excluded.amount, billing_code=excluded.billing_code",
        (
            sid, s.index(e.patient_id, "patient"), group, day, month, starts, kind, code,
            attendance, int(cancelled), d.money(amount), currency, tz,
            s.seal(e.patient_id, "patient_id_sealed"),
        ),
    )  # fmt: skip


def _session_cancelled(tx: Tx, nid: int, e: TherapySession.Cancelled) -> None:
    """A session the clinic cancels charges nobody (SPEC §2): the only lines it can have are
    advance cancellations (attendance at it would have prevented the cancel), and those go,
    as they go from the patients' records and the attendance view."""
    sid = str(e.originator_id)
    if scheduled_in_batch(tx, sid) and ("session lines", sid) not in tx.cache:
        return  # all its rows were written in this batch, and no charge line among them
    tx.execute("DELETE FROM view_cost_lines WHERE session_id=?", (sid,))


def _session_rescheduled(tx: Tx, nid: int, e: TherapySession.Rescheduled) -> None:
    """Advance cancellations stay with a session the clinic moves: their lines move to its
    new date and take the fees in force at its new start."""
    sid = str(e.originator_id)
    if scheduled_in_batch(tx, sid) and ("session lines", sid) not in tx.cache:
        return  # scheduled in this batch and no charge line written for it since
    row = tx.one(
        "SELECT group_id, timezone FROM view_cost_lines WHERE session_id=? LIMIT 1", (sid,)
    )
    if row is None:
        return
    starts = tx.dialect.instant(e.starts_at)
    _, day, month = _local(tx, starts, row[1])
    tx.execute(
        "UPDATE view_cost_lines SET starts_at=?, session_date=?, month=? WHERE session_id=?",
        (starts, day, month, sid),
    )
    _reprice(tx, row[0], "session_id = ?", (sid,))


def projection() -> Projection:
    return Projection(
        "costs",
        DDL,
        TABLES,
        sealed=SEALED,
        handlers={
            TherapyGroup.Created: _group_created,
            TherapyGroup.FeesChanged: _fees_changed,
            TherapySession.AttendanceRecorded: _attendance_recorded,
            # An advance cancellation is charged like the status it became (late_cancel
            # or excused) until an attendance correction replaces the line.
            TherapySession.AdvanceCancellationRecorded: _attendance_recorded,
            TherapySession.Rescheduled: _session_rescheduled,
            TherapySession.Cancelled: _session_cancelled,
        },
    )


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargeLine:
    session_id: UUID
    patient_id: str
    group_id: UUID
    session_date: date
    starts_at: datetime  # aware, in the group's zone
    kind: str
    billing_code: str
    attendance_status: str
    session_cancelled: bool
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Totals:
    """Sums over some lines; ``key`` says which (a session, group, month or patient)."""

    key: tuple[Any, ...]
    currency: str
    lines: int
    billable: int  # lines with a charge above zero
    total: Decimal
    maintenance_subtotal: Decimal


@dataclass(frozen=True)
class Statement:
    """A patient's lines over a period and their totals: one per currency, in currency
    order. Amounts in different currencies are never added together."""

    patient_id: str
    from_date: date | None
    to_date: date | None
    lines: list[ChargeLine]
    totals: list[Totals]

    def total_in(self, currency: str) -> Totals | None:
        return next((t for t in self.totals if t.currency == currency), None)


LINE_COLUMNS = (
    "session_id, patient_id_sealed, group_id, session_date, starts_at, kind, billing_code,"
    " attendance_status, session_cancelled, amount, currency, timezone"
)


Groups = UUID | str | frozenset[str] | None
"""One group, or a set of groups (a report filtered by therapist or modality), or all."""


def _filters(
    from_date: date | None,
    to_date: date | None,
    group_id: Groups,
    patient_id: str | None,
    tx_dialect: Any,
) -> tuple[str, list[Any]]:
    clauses, params = ["1 = 1"], []
    for clause, value in (
        ("session_date >= ?", None if from_date is None else tx_dialect.day(from_date)),
        ("session_date <= ?", None if to_date is None else tx_dialect.day(to_date)),
        ("patient_id = ?", patient_id),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    if isinstance(group_id, frozenset):
        ids = sorted(group_id)
        clauses.append(f"group_id IN ({','.join('?' * len(ids))})" if ids else "1 = 0")
        params.extend(ids)
    elif group_id is not None:
        clauses.append("group_id = ?")
        params.append(str(group_id))
    return " AND ".join(clauses), params


class CostsView:
    """Lines and totals; the engine subclasses differ in how they add money up."""

    def __init__(self, db: ViewDatabase) -> None:
        self.db = db

    def lines(
        self,
        from_date: date | None = None,
        to_date: date | None = None,
        group_id: Groups = None,
        patient_id: str | None = None,
    ) -> list[ChargeLine]:
        d = self.db.dialect
        where, params = _filters(from_date, to_date, group_id, self._key(patient_id), d)
        with self.db.read() as tx:
            rows = tx.all(
                f"SELECT {LINE_COLUMNS} FROM view_cost_lines WHERE {where}"
                " ORDER BY starts_at, session_id",
                params,
            )
        result = []
        for r in rows:
            r = self.db.sealer.open_row(r, {1: "patient_id_sealed"})
            starts = d.to_instant(r[4])
            assert starts is not None
            amount = d.to_money(r[9]).quantize(minor_unit(r[10]))
            result.append(
                ChargeLine(
                    UUID(r[0]), r[1], UUID(r[2]), d.to_day(r[3]),
                    starts.astimezone(ZoneInfo(r[11])), r[5], r[6], r[7],
                    bool(r[8]), amount, r[10],
                )
            )  # fmt: skip
        # Patients in order within a session: their ids are sealed, so ordered here, not in SQL.
        result.sort(key=lambda line: (line.starts_at, str(line.session_id), line.patient_id))
        return result

    def _key(self, patient_id: str | None) -> str | None:
        """What ``view_cost_lines.patient_id`` holds for the patient: their blind index."""
        return None if patient_id is None else self.db.sealer.index(patient_id, "patient")

    def _add_up(self, keys: str, where: str, params: list[Any]) -> list[Totals]:
        """The lines matching ``where``, added up per value of the ``keys`` columns and
        currency (the key of each result is the ``keys`` values, as stored)."""
        raise NotImplementedError

    def _totals_per(
        self,
        keys: str,
        from_date: date | None,
        to_date: date | None,
        group_id: Groups,
        patient_id: str | None = None,
    ) -> list[Totals]:
        """Totals per value of the ``keys`` columns over the lines the filters select."""
        where, params = _filters(
            from_date, to_date, group_id, self._key(patient_id), self.db.dialect
        )
        return self._add_up(keys, where, params)

    def session_totals(
        self, from_date: date | None = None, to_date: date | None = None, group_id: Any = None
    ) -> list[Totals]:
        """Key: (session_id, group_id, session_date)."""
        found = self._totals_per("session_id, group_id, session_date", from_date, to_date, group_id)
        d = self.db.dialect
        return sorted(
            (
                Totals((UUID(t.key[0]), UUID(t.key[1]), d.to_day(t.key[2])), *_figures(t))
                for t in found
            ),
            key=lambda t: (t.key[2], str(t.key[0])),
        )

    def group_totals(
        self, from_date: date | None = None, to_date: date | None = None, group_id: Any = None
    ) -> list[Totals]:
        """Key: (group_id,)."""
        found = self._totals_per("group_id", from_date, to_date, group_id)
        return sorted(
            (Totals((UUID(t.key[0]),), *_figures(t)) for t in found), key=lambda t: str(t.key)
        )

    def month_totals(
        self, from_date: date | None = None, to_date: date | None = None, group_id: Any = None
    ) -> list[Totals]:
        """Key: ("YYYY-MM",), the month of the session in its group's zone."""
        return sorted(
            self._totals_per("month", from_date, to_date, group_id),
            key=lambda t: (t.key, t.currency),
        )

    def currency_totals(
        self, from_date: date | None = None, to_date: date | None = None, group_id: Any = None
    ) -> list[Totals]:
        """Key: (currency,): everything in the period, one total per currency."""
        found = self._totals_per("currency", from_date, to_date, group_id)
        return sorted(found, key=lambda t: t.currency)

    def fees_in_force(self, group_id: UUID | str, starts_at: datetime) -> FeeSchedule:
        """The group's fee schedule for a session starting at ``starts_at``."""
        with self.db.read() as tx:
            return fee_in_force(_periods(tx, str(group_id)), starts_at)

    def statement(
        self, patient_id: str, from_date: date | None = None, to_date: date | None = None
    ) -> Statement:
        """The patient's lines in all their groups, sessions from ``from_date`` to
        ``to_date`` inclusive (local session dates), with totals per currency."""
        lines = self.lines(from_date, to_date, patient_id=patient_id)
        found = self._totals_per("patient_id", from_date, to_date, None, patient_id)
        totals = [replace(t, key=(patient_id,)) for t in found]  # the id, not its blind index
        return Statement(
            patient_id, from_date, to_date, lines, sorted(totals, key=lambda t: t.currency)
        )


def _figures(t: Totals) -> tuple[Any, ...]:
    """Everything a Totals holds but its key, to rebuild it with a typed key."""
    return t.currency, t.lines, t.billable, t.total, t.maintenance_subtotal


class SQLiteCostsView(CostsView):
    """SQLite has no exact decimal type: fetch the amounts and add them as ``Decimal``."""

    def _add_up(self, keys: str, where: str, params: list[Any]) -> list[Totals]:
        n = keys.count(",") + 1
        with self.db.read() as tx:
            rows = tx.all(
                f"SELECT {keys}, currency, amount, kind FROM view_cost_lines WHERE {where}", params
            )
        sums: dict[tuple[Any, ...], list[Any]] = {}
        for row in rows:
            key, currency, amount, kind = tuple(row[:n]), row[n], Decimal(row[n + 1]), row[n + 2]
            acc = sums.setdefault((*key, currency), [0, 0, Decimal(0), Decimal(0)])
            acc[0] += 1
            acc[1] += amount > 0
            acc[2] += amount
            if kind == SessionKind.MAINTENANCE.value:
                acc[3] += amount
        return [_quantized_totals(k[:n], k[n], *acc) for k, acc in sums.items()]


class PostgresCostsView(CostsView):
    """NUMERIC is exact: let PostgreSQL add up."""

    def _add_up(self, keys: str, where: str, params: list[Any]) -> list[Totals]:
        n = keys.count(",") + 1
        with self.db.read() as tx:
            rows = tx.all(
                f"SELECT {keys}, currency, COUNT(*), COUNT(*) FILTER (WHERE amount > 0),"
                " SUM(amount), COALESCE(SUM(amount) FILTER (WHERE kind = 'maintenance'), 0)"
                f" FROM view_cost_lines WHERE {where} GROUP BY {keys}, currency",
                params,
            )
        return [_quantized_totals(tuple(r[:n]), r[n], *r[n + 1 :]) for r in rows]


def _quantized_totals(
    key: tuple[Any, ...], currency: str, lines: int, billable: int, total: Any, maint: Any
) -> Totals:
    """Totals from the sums as the engine returns them, money quantized to the currency."""
    unit = minor_unit(currency)
    return Totals(
        key, currency, int(lines), int(billable), Decimal(total).quantize(unit),
        Decimal(maint).quantize(unit),
    )  # fmt: skip


def costs_view(db: ViewDatabase) -> CostsView:
    return PostgresCostsView(db) if db.is_postgres else SQLiteCostsView(db)
