"""Sealed view columns and blind indexes (projections.sealing), and rotating the key.

Rotation as docs/operations.md runs it: the log is exported under the old key and imported
under the new one, and the views are built there from event 1, sealed under the new key;
views left sealed under another key start over rather than fail to open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.application import Circles
from projections.rebuild import rebuild
from projections.runner import Projector
from projections.sealing import PREFIX, Sealer, SealError
from projections.store import StoreSettings
from service.migration import export_events, import_events
from tests.conftest import Clock
from tests.projections.scenario import populate

OLD_KEY = "k8X0b4yQ1m3cZ9sR2vT6wA5eN7pL0hJ4gF1dS8aQ2uE="
NEW_KEY = "Zr3u9Wm2Qx7Lp5Tn1Vb8Ky4Hc6Jd0Fg2Sa9Pe3Mw7Ro="


def test_without_a_key_every_call_is_the_identity() -> None:
    plain = Sealer(None)
    assert not plain.enabled and plain.key_check == ""
    assert plain.seal("Ada Lovelace", "patient_name") == "Ada Lovelace"
    assert plain.open("Ada Lovelace", "patient_name") == "Ada Lovelace"
    assert plain.index("p-1", "patient") == "p-1"
    assert plain.seal(None, "primary_area") is None


def test_sealed_values_open_only_with_their_key_and_column() -> None:
    sealer = Sealer(OLD_KEY)
    sealed = sealer.seal("Ada Lovelace", "patient_name")
    assert sealed is not None and sealed.startswith(PREFIX) and "Ada" not in sealed
    assert sealed != sealer.seal("Ada Lovelace", "patient_name")  # a fresh nonce each time
    assert sealer.open(sealed, "patient_name") == "Ada Lovelace"
    assert sealer.seal(None, "primary_area") is None and sealer.open(None, "x") is None
    with pytest.raises(SealError):
        sealer.open(sealed, "invitee_name")  # moved to another column
    with pytest.raises(SealError):
        Sealer(NEW_KEY).open(sealed, "patient_name")
    middle = len(sealed) // 2  # a ciphertext character (the last ones are padding bits)
    tampered = sealed[:middle] + ("A" if sealed[middle] != "A" else "B") + sealed[middle + 1 :]
    with pytest.raises(SealError):
        sealer.open(tampered, "patient_name")
    with pytest.raises(SealError):
        sealer.open("Ada Lovelace", "patient_name")  # plain text where a sealed value belongs


def test_blind_indexes_are_stable_per_key_and_kind_and_hide_the_id() -> None:
    sealer = Sealer(OLD_KEY)
    index = sealer.index("p-1", "patient")
    assert index == Sealer(OLD_KEY).index("p-1", "patient") and len(index) == 22
    assert "p-1" not in index
    assert index != sealer.index("p-2", "patient")
    assert index != sealer.index("p-1", "therapist")
    assert index != Sealer(NEW_KEY).index("p-1", "patient")
    assert Sealer(OLD_KEY).key_check != Sealer(NEW_KEY).key_check != ""


def _raw_names(views: Projector) -> list[str]:
    with views.db.read() as tx:
        return [r[0] for r in tx.all("SELECT patient_name FROM view_enrollments")]


def test_rotation_rebuilds_the_views_sealed_under_the_new_key(
    durable_store: StoreSettings, clock: Clock, tmp_path: Path
) -> None:
    old = StoreSettings("sqlite", sqlite_path=tmp_path / "old.sqlite3", cipher_key=OLD_KEY)
    source = Circles(env=old.eventsourcing_env(), clock=clock)
    populate(source, clock, groups=2)
    old_views = Projector(source, old)
    old_views.catch_up()
    export_events(source, tmp_path / "rotate.jsonl")

    new = StoreSettings(**{**durable_store.__dict__, "cipher_key": NEW_KEY})
    target = Circles(env=new.eventsourcing_env(), clock=clock)
    import_events(target, tmp_path / "rotate.jsonl")
    rebuild(target, new)
    new_views = Projector(target, new)
    try:
        # Blind indexes differ under the new key; everything read through the views is equal.
        assert _reads(new_views) == _reads(old_views)
        assert _raw_patient_keys(new_views).isdisjoint(_raw_patient_keys(old_views))
        names = _raw_names(new_views)
        assert names and all(n.startswith(PREFIX) for n in names)
        opened = {Sealer(NEW_KEY).open(n, "patient_name") for n in names}
        assert opened == {n.patient_name for n in _enrollments(new_views)}
        with pytest.raises(SealError):
            Sealer(OLD_KEY).open(names[0], "patient_name")
    finally:
        new_views.close()
        old_views.close()
        target.close()
        source.close()


def _enrollments(views: Projector) -> list[Any]:
    groups = views.directory.groups(limit=100)
    return [e for g in groups for e in views.directory.enrollments(g.group_id, limit=100)]


def _reads(views: Projector) -> list[Any]:
    """What the API reads from the views, for every group and patient of the scenario."""
    groups = views.directory.groups(limit=100)
    found: list[Any] = [[(g.group_id, g.name, g.modality) for g in groups]]
    for enrollment in _enrollments(views):
        pid = enrollment.patient_id
        found += [
            enrollment,
            views.directory.enrollments_for_patient(pid),
            views.attendance.patient(pid),
            views.costs.statement(pid),
            views.calendars.sessions_for_patient(pid),
        ]
    for group in groups:
        found.append(views.attendance.group_rates(group.group_id))
        for session in views.calendars.sessions_for_group(group.group_id):
            found.append(views.attendance.roster(session.session_id))
            for therapist in session.facilitator_ids:
                found.append(views.calendars.sessions_for_therapist(therapist))
    return found


def _raw_patient_keys(views: Projector) -> set[str]:
    with views.db.read() as tx:
        return {r[0] for r in tx.all("SELECT patient_id FROM view_cost_lines")}


def test_views_sealed_under_another_key_start_over(
    durable_store: StoreSettings, clock: Clock
) -> None:
    keyed = StoreSettings(**{**durable_store.__dict__, "cipher_key": OLD_KEY})
    app = Circles(env=keyed.eventsourcing_env(), clock=clock)
    populate(app, clock, groups=1)
    views = Projector(app, keyed)
    views.catch_up()
    before = _reads(views)
    # The same views opened with another key for the views (the events still read): they
    # cannot be opened, so they are dropped and built again, sealed under that key.
    other = Projector(app, StoreSettings(**{**keyed.__dict__, "cipher_key": NEW_KEY}))
    try:
        assert other.position() == 0
        other.catch_up()
        assert _reads(other) == before
        Sealer(NEW_KEY).open(_raw_names(other)[0], "patient_name")
    finally:
        other.close()
        views.close()
        app.close()
