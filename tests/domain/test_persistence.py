"""Storage: exact round-trips of every value type, encryption at rest, snapshots."""

from __future__ import annotations

import base64
import os
import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.domain import Aggregate, event

from domain.application import Circles
from domain.group import TherapyGroup
from domain.values import AttendanceStatus, FeePeriod, FeeSchedule, Modality
from projections.store import StoreSettings
from tests.conftest import Clock
from tests.domain.helpers import FEES, make_group, plan


class Sample(Aggregate):
    """Carries one value of each type the domain stores."""

    @event("Created")
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values


ROUND_TRIP: dict[str, Any] = {
    "date": date(2027, 3, 14),
    "enum": Modality.DIT,
    "attendance": AttendanceStatus.LATE_CANCEL,
    "zoned": datetime(2027, 3, 14, 18, 0, tzinfo=ZoneInfo("America/New_York")),
    "utc": datetime(2027, 3, 14, 22, 0, tzinfo=UTC),
    "set": {"b", "a"},
    "decimal": Decimal("85.10"),
    "fees": FeeSchedule.parse("EUR", FEES),
    "period": FeePeriod(
        datetime(2027, 1, 1, tzinfo=ZoneInfo("Europe/Berlin")), FeeSchedule.parse("EUR", FEES)
    ),
}


def test_every_stored_type_round_trips_exactly(store: StoreSettings, clock: Clock) -> None:
    app = Circles(env=store.eventsourcing_env(), clock=clock)
    sample = Sample(values=dict(ROUND_TRIP))
    app.save(sample)
    reloaded = (
        Circles(env=store.eventsourcing_env(), clock=clock) if store.engine != "memory" else app
    )
    values = reloaded.repository.get(sample.id).values
    for key, expected in ROUND_TRIP.items():
        assert values[key] == expected, key
        assert type(values[key]) is type(expected), key
    assert values["zoned"].tzinfo == ZoneInfo("America/New_York")
    assert str(values["decimal"]) == "85.10"


def test_a_session_keeps_its_iana_zone_after_reload(
    durable_store: StoreSettings, clock: Clock
) -> None:
    app = Circles(env=durable_store.eventsourcing_env(), clock=clock)
    sid = plan(app, make_group(app, timezone="Europe/Berlin"), first_date="2027-03-23", count=12)[1]
    fresh = Circles(env=durable_store.eventsourcing_env(), clock=clock)
    starts = fresh.get_session(sid).starts_at
    assert starts.tzinfo == ZoneInfo("Europe/Berlin")
    assert starts.isoformat() == "2027-03-30T18:00:00+02:00"


def _raw_event_bytes(store: StoreSettings) -> bytes:
    if store.engine == "sqlite":
        assert store.sqlite_path is not None
        with sqlite3.connect(store.sqlite_path) as conn:
            rows = conn.execute("SELECT state FROM stored_events").fetchall()
    else:
        import psycopg

        with psycopg.connect(store.pg_conninfo) as conn:
            rows = conn.execute(
                f'SELECT state FROM "{store.pg_schema}".circles_events'  # noqa: S608
            ).fetchall()
    assert rows
    return b"".join(bytes(r[0]) for r in rows)


def test_cipher_key_encrypts_stored_events(durable_store: StoreSettings, clock: Clock) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    encrypted = StoreSettings(**{**durable_store.__dict__, "cipher_key": key})
    app = Circles(env=encrypted.eventsourcing_env(), clock=clock)
    gid = make_group(app)
    app.enroll(gid, "coord-1", "ehr-4711", "Rosalind Featherstonehaugh")
    raw = _raw_event_bytes(encrypted)
    assert b"Featherstonehaugh" not in raw
    assert b"ehr-4711" not in raw
    assert b"Tuesday evening" not in raw
    # The same key reads them back; the patient name is intact.
    again = Circles(env=encrypted.eventsourcing_env(), clock=clock)
    group = again.get_group(gid)
    enrollment = again.get_enrollment(group.enrollment_ids["ehr-4711"])
    assert enrollment.patient_name == "Rosalind Featherstonehaugh"


def test_without_cipher_key_names_are_stored_in_clear(
    durable_store: StoreSettings, clock: Clock
) -> None:
    # The check above is meaningful only if the plain store does show the name.
    app = Circles(env=durable_store.eventsourcing_env(), clock=clock)
    app.enroll(make_group(app), "coord-1", "ehr-4711", "Rosalind Featherstonehaugh")
    assert b"Featherstonehaugh" in _raw_event_bytes(durable_store)


def test_long_lived_groups_are_snapshotted(store: StoreSettings, clock: Clock) -> None:
    app = Circles(env=store.eventsourcing_env(), clock=clock)
    gid = make_group(app, opened=False, max_size=50, min_size=1)
    for i in range(120):
        app.update_group(gid, "coord-1", name=f"Name {i}")
    assert app.snapshots is not None
    snapshots = list(app.snapshots.get(gid))
    assert snapshots, "a group with 121 events should have a snapshot"
    fresh = Circles(env=store.eventsourcing_env(), clock=clock) if store.engine != "memory" else app
    group = fresh.get_group(gid)
    assert isinstance(group, TherapyGroup)
    assert group.name == "Name 119" and group.version == 121
    assert group.fees.session_fee == Decimal("85.00")


def test_history_lists_every_event_with_actor_and_time(app: Circles) -> None:
    gid = make_group(app)
    eid, _ = app.enroll(gid, "coord-7", "p1", "Pat")
    app.record_intake(eid, "coord-8", "role_dispute", True)
    history = app.history(eid)
    assert [type(e).__name__ for e in history] == ["Created", "IntakeRecorded"]
    assert [e.actor for e in history] == ["coord-7", "coord-8"]
    assert all(e.timestamp.tzinfo is not None for e in history)


@pytest.mark.parametrize("engine", ["sqlite"])
def test_sqlite_file_is_created_under_the_data_dir(tmp_path, engine: str) -> None:  # type: ignore[no-untyped-def]
    settings = StoreSettings.from_env({"CIRCLES_DATA_DIR": str(tmp_path / "data")})
    assert settings.engine == engine
    Circles(env=settings.eventsourcing_env()).create_group(
        "c",
        **{
            "name": "G",
            "modality": "ipt",
            "format": "online",
            "facilitator_ids": ["t"],
            "video_url": "https://v.example/x",
            "timezone": "UTC",
            "currency": "EUR",
            "fees": FEES,
        },
    )
    assert (tmp_path / "data" / "circles.sqlite3").exists()


def test_database_url_selects_postgres() -> None:
    settings = StoreSettings.from_env(
        {"DATABASE_URL": "postgresql://circ:s%40cret@db.internal:6543/clinic?schema=west"}
    )
    env = settings.eventsourcing_env()
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_USER"]) == (
        "db.internal",
        "6543",
        "circ",
    )
    assert (env["POSTGRES_PASSWORD"], env["POSTGRES_DBNAME"], env["POSTGRES_SCHEMA"]) == (
        "s@cret",
        "clinic",
        "west",
    )
