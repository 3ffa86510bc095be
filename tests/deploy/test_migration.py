"""Moving the event log SQLite → PostgreSQL while rotating CIPHER_KEY, with the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment

from bench.history import patient_id, write_history
from domain.application import Circles
from projections.store import StoreSettings
from service.migration import MigrationError, export_events, import_events
from tests.deploy.conftest import ROOT, deploy_env

OLD_KEY, NEW_KEY = AESCipher.create_key(32), AESCipher.create_key(32)


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "flask", "--app", "service", *args]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_export_then_import_moves_every_event_and_re_encrypts_it(
    pg_schema: StoreSettings, tmp_path: Path
) -> None:
    sqlite = StoreSettings("sqlite", sqlite_path=tmp_path / "circles.sqlite3", cipher_key=OLD_KEY)
    source = Circles(env=sqlite.eventsourcing_env())
    write_history(source, 2000)
    count = int(source.recorder.max_notification_id() or 0)

    old_env = {**deploy_env(pg_schema), "CIPHER_KEY": OLD_KEY, "CIRCLES_DATA_DIR": str(tmp_path)}
    del old_env["DATABASE_URL"]
    exported = flask(old_env, "export-events", str(tmp_path / "log.jsonl"))
    assert exported.returncode == 0, exported.stderr
    assert f"exported {count:,} events" in exported.stdout
    assert f"{count:,}/{count:,} events" in exported.stderr  # the progress bar's last state
    assert (tmp_path / "log.jsonl").stat().st_mode & 0o777 == 0o600

    new_env = {**deploy_env(pg_schema), "CIPHER_KEY": NEW_KEY}
    imported = flask(new_env, "import-events", str(tmp_path / "log.jsonl"))
    assert imported.returncode == 0, imported.stderr
    assert f"imported and verified {count:,} events" in imported.stdout
    checksum = exported.stdout.split("sha256 ")[1].strip()
    assert checksum in imported.stdout

    target = Circles(env=StoreSettings(**{**pg_schema.__dict__, "cipher_key": NEW_KEY})
                     .eventsourcing_env())  # fmt: skip
    try:
        assert target.recorder.max_notification_id() == count
        for original in source.recorder.select_notifications(0, 200):
            aggregate_id = UUID(str(original.originator_id))
            same: Any = target.repository.get(aggregate_id)
            assert same.__dict__ == source.repository.get(aggregate_id).__dict__
        # At rest under the new key: no clear text, and the old key cannot read it.
        raw = target.recorder.select_notifications(0, 50)
        assert not any(patient_id(0, 1).encode() in n.state for n in raw)
        with pytest.raises(Exception):  # noqa: B017 - any cipher failure will do
            AESCipher(_env(OLD_KEY)).decrypt(raw[0].state)
        # A second import into the same store is refused: it is no longer empty.
        again = flask(new_env, "import-events", str(tmp_path / "log.jsonl"))
        assert again.returncode != 0 and "already has events" in again.stderr
    finally:
        target.close()
        source.close()


def test_a_damaged_or_cut_file_is_refused(tmp_path: Path) -> None:
    source = Circles(env=StoreSettings("memory").eventsourcing_env())
    write_history(source, 500)
    export_events(source, tmp_path / "log.jsonl")
    lines = (tmp_path / "log.jsonl").read_text().splitlines(keepends=True)

    changed = json.loads(lines[5])
    changed["originator_version"] += 100
    (tmp_path / "changed.jsonl").write_text("".join([*lines[:5], json.dumps(changed) + "\n",
                                                      *lines[6:]]))  # fmt: skip
    target = Circles(env=StoreSettings("memory").eventsourcing_env())
    with pytest.raises(MigrationError, match="changed or damaged"):
        import_events(target, tmp_path / "changed.jsonl")

    (tmp_path / "cut.jsonl").write_text("".join(lines[:-1]))
    with pytest.raises(MigrationError, match="cut short"):
        import_events(target, tmp_path / "cut.jsonl")
    assert not target.recorder.max_notification_id()  # nothing was written
    summary = import_events(target, tmp_path / "log.jsonl")
    assert summary.count == source.recorder.max_notification_id()


def _env(key: str) -> Environment:
    return Environment(env={"CIPHER_KEY": key})
