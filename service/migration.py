"""Move the event log between stores, or re-encrypt it under a new ``CIPHER_KEY``.

``export_events`` writes the log as JSON lines, in notification order: a header, one line
per stored event ``{"originator_id", "originator_version", "topic", "state"}`` with the
event's state *decrypted and decompressed* (base64 of the JSON the transcoder wrote),
and a trailer ``{"count", "sha256"}``. ``import_events`` appends those events to an empty
store, compressing and encrypting them as *that* store is configured, then reads the
whole log back through the target's own mapper and checks the count and the checksum
against the trailer. So one pair of commands migrates SQLite → PostgreSQL, and the same
pair with a different ``CIPHER_KEY`` on each side rotates the key.

The checksum is SHA-256 over every record, in order, each field length-prefixed: it
does not depend on the cipher, the compressor or the notification ids of either store.
The file holds the events in clear (PHI): it is created mode 0600; keep it on an
encrypted volume and delete it once the import is verified.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain.application import Circles
from domain.group import TherapyGroup
from projections.rebuild import Progress

FORMAT = "circles-event-log"
VERSION = 1
BATCH = 1000


class MigrationError(Exception):
    """The file or the target store is not what an import can accept."""


@dataclass(frozen=True)
class Summary:
    count: int
    sha256: str
    seconds: float


class Checksum:
    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.count = 0

    def add(self, originator_id: str, version: int, topic: str, state: bytes) -> None:
        for part in (originator_id.encode(), str(version).encode(), topic.encode(), state):
            self._hash.update(struct.pack(">Q", len(part)))
            self._hash.update(part)
        self.count += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _plain_log(app: Circles) -> Iterator[tuple[str, int, str, bytes]]:
    """Every stored event in notification order, with its state in clear."""
    mapper, position = app.mapper, 0
    while batch := app.recorder.select_notifications(position, BATCH, inclusive_of_start=False):
        for n in batch:
            state = n.state
            if mapper.cipher:
                state = mapper.cipher.decrypt(state)
            if mapper.compressor:
                state = mapper.compressor.decompress(state)
            yield str(n.originator_id), n.originator_version, n.topic, state
        position = batch[-1].id


def _reporter(progress: Callable[[Progress], None] | None, total: int) -> Callable[[int], None]:
    started = time.monotonic()

    def report(done: int) -> None:
        if progress is not None:
            elapsed = time.monotonic() - started
            rate = done / elapsed if elapsed > 0 else 0.0
            progress(Progress(done, max(total, done), elapsed, rate, 0))

    return report


def export_events(
    app: Circles, path: Path, progress: Callable[[Progress], None] | None = None
) -> Summary:
    """Write the whole event log to ``path`` (refuses to overwrite a file)."""
    started = time.monotonic()
    head = int(app.recorder.max_notification_id() or 0)
    report = _reporter(progress, head)
    checksum = Checksum()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        header = {"format": FORMAT, "version": VERSION, "source_head": head,
                  "exported_at": datetime.now(UTC).isoformat()}  # fmt: skip
        out.write(json.dumps(header) + "\n")
        for originator_id, version, topic, state in _plain_log(app):
            checksum.add(originator_id, version, topic, state)
            record = {"originator_id": originator_id, "originator_version": version,
                      "topic": topic, "state": base64.b64encode(state).decode()}  # fmt: skip
            out.write(json.dumps(record) + "\n")
            if checksum.count % BATCH == 0:
                report(checksum.count)
        out.write(json.dumps({"count": checksum.count, "sha256": checksum.hexdigest()}) + "\n")
    report(checksum.count)
    return Summary(checksum.count, checksum.hexdigest(), time.monotonic() - started)


def _read(lines: IO[str]) -> tuple[dict[str, Any], Iterator[dict[str, Any]], dict[str, Any]]:
    header = json.loads(lines.readline() or "{}")
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise MigrationError(f"not a {FORMAT} v{VERSION} file")
    trailer: dict[str, Any] = {}

    def records() -> Iterator[dict[str, Any]]:
        for line in lines:
            row = json.loads(line)
            if "count" in row and "sha256" in row:
                trailer.update(row)
                return
            yield row

    return header, records(), trailer


def _verify_file(path: Path) -> dict[str, Any]:
    """The file's trailer, once every record has been checked against it."""
    checksum = Checksum()
    with open(path, encoding="utf-8") as lines:
        _, records, trailer = _read(lines)
        for row in records:
            state = base64.b64decode(row["state"], validate=True)
            checksum.add(row["originator_id"], row["originator_version"], row["topic"], state)
    if not trailer:
        raise MigrationError("the file has no trailer: it was cut short; nothing was imported")
    if (checksum.count, checksum.hexdigest()) != (trailer["count"], trailer["sha256"]):
        raise MigrationError(
            f"the file does not match its own trailer ({checksum.count} events read, "
            f"{trailer['count']} written): it was changed or damaged; nothing was imported"
        )
    return trailer


def import_events(
    app: Circles,
    path: Path,
    progress: Callable[[Progress], None] | None = None,
    snapshots: bool = True,
) -> Summary:
    """Append the file's events to ``app``'s empty store, then verify count and checksum.

    The file is checked against its own trailer first, and the store, read back through
    its own mapper, against the trailer last.

    With ``snapshots``, groups long enough to have one get a fresh snapshot, so they load
    as fast as before (B5); snapshots are a cache and are not in the file.
    """
    started = time.monotonic()
    if app.recorder.max_notification_id():
        raise MigrationError("the target store already has events; import needs an empty one")
    trailer = _verify_file(path)  # before writing anything: a bad file changes nothing
    report = _reporter(progress, trailer["count"])
    mapper, written = app.mapper, 0
    group_topic = get_topic(TherapyGroup) + "."
    groups: set[UUID] = set()
    with open(path, encoding="utf-8") as lines:
        _, records, _ = _read(lines)
        batch: list[StoredEvent] = []
        for row in records:
            state = base64.b64decode(row["state"], validate=True)
            if mapper.compressor:
                state = mapper.compressor.compress(state)
            if mapper.cipher:
                state = mapper.cipher.encrypt(state)
            originator = UUID(row["originator_id"])
            if row["topic"].startswith(group_topic):
                groups.add(originator)
            batch.append(StoredEvent(originator, row["originator_version"], row["topic"], state))
            if len(batch) == BATCH:
                app.recorder.insert_events(batch)
                written += len(batch)
                batch = []
                report(written)
        if batch:
            app.recorder.insert_events(batch)
            written += len(batch)
        report(written)
    stored = Checksum()
    for record in _plain_log(app):
        stored.add(*record)
    if (stored.count, stored.hexdigest()) != (trailer["count"], trailer["sha256"]):
        raise MigrationError(
            f"the target store does not hold what the file holds ({stored.count} events, "
            f"checksum {stored.hexdigest()[:12]}… vs {trailer['sha256'][:12]}…)"
        )
    if snapshots:
        interval = app.snapshotting_intervals.get(TherapyGroup, 0)
        for group_id in groups:
            if interval and app.repository.get(group_id).version >= interval:
                app.take_snapshot(group_id)
    return Summary(stored.count, stored.hexdigest(), time.monotonic() - started)
