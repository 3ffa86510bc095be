"""PHI at rest (SPEC §6): with CIPHER_KEY no planted name, email or patient id is in the files.

A patient, their invitee and a group are planted through the API (enrollment, intake,
attendance, an invitation proposed with an ``Idempotency-Key`` so its reply is stored, a
feed token). Then the raw SQLite file with its ``-wal`` and a ``pg_dump`` of the test
schema are searched for each value: as text, as hex (how ``pg_dump`` writes ``bytea``) and
as base64 at each of the three alignments. With the key none is found while the API still
answers them; without it (the embedded demo) the same search finds them in the views,
which shows the search can fail.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from projections.store import StoreSettings
from tests.conftest import Clock
from tests.rebuilt import assert_views_equal_a_rebuild
from tests.service.conftest import Api, make_api

KEY = "e2Ry0sXJ0Kq7N3Qq2dYkqvJm4i2wq6V2Zb8dQp1nUeQ="  # a test key, 32 bytes in base64
PATIENT_ID = "pt-Quokka-4417-Marsh"
PATIENT_NAME = "Quintessa Vandermolen"
INVITEE_NAME = "Bartholomew Okonkwo-Lind"
EMAIL = "zanzibar.quill@example.org"
GROUP_NAME = "Harbourside evening circle"
RELATIONSHIP = "step-grandmother"
NEEDLES = [PATIENT_ID, PATIENT_NAME, INVITEE_NAME, EMAIL, GROUP_NAME, RELATIONSHIP]


def forms(needle: str) -> list[bytes]:
    """The needle as stored text, as hex, and as the base64 characters that encode only its
    bytes whatever its offset in a larger value (standard and URL-safe alphabets)."""
    raw = needle.encode()
    found = [raw, raw.hex().encode()]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw + b"\0\0\0")
        first, last = -(-8 * shift // 6), 8 * (shift + len(raw)) // 6
        inner = encoded[first:last]
        found += [inner, inner.translate(bytes.maketrans(b"+/", b"-_"))]
    return found


def leaked(data: bytes) -> set[str]:
    return {needle for needle in NEEDLES if any(form in data for form in forms(needle))}


def stored_bytes(store: StoreSettings) -> bytes:
    """Everything the store holds on disk (SQLite) or in its schema (``pg_dump``)."""
    if store.engine == "sqlite":
        assert store.sqlite_path is not None
        files = [store.sqlite_path, store.sqlite_path.with_name(store.sqlite_path.name + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    dumped = subprocess.run(
        [
            pg_dump, "-h", store.pg_host, "-p", str(store.pg_port), "-U", store.pg_user,
            "-d", store.pg_dbname, "-n", store.pg_schema, "--no-owner",
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    assert b"COPY" in dumped.stdout and b"view_enrollments" in dumped.stdout
    return dumped.stdout


@pytest.fixture(params=["sealed", "plain"])
def keyed(request: pytest.FixtureRequest, durable_store: StoreSettings) -> StoreSettings:
    key = KEY if request.param == "sealed" else None
    return StoreSettings(**{**durable_store.__dict__, "cipher_key": key})


@pytest.fixture
def planted_api(keyed: StoreSettings, clock: Clock) -> Iterator[Api]:
    yield from make_api(keyed, clock)


def plant(api: Api) -> dict[str, Any]:
    group = api.group(name=GROUP_NAME, min_size=1, guest_limit=1)
    sessions = api.plan(group["id"])
    enrollment = api.enroll(group["id"], PATIENT_ID, patient_name=PATIENT_NAME)
    api.enroll(group["id"], "p-other")
    r = api.post(
        f"/enrollments/{enrollment['id']}/intake",
        json={"primary_area": "grief", "inventory_done": True},
    )
    assert r.status_code == 200, r.get_json()
    invitation = {
        "patient_id": PATIENT_ID,
        "invitee_name": INVITEE_NAME,
        "relationship": RELATIONSHIP,
        "invitee_email": EMAIL,
    }
    proposed = api.post(
        f"/sessions/{sessions[2]['id']}/invitations",
        json=invitation,
        headers={"Idempotency-Key": "propose-1"},
    )
    assert proposed.status_code == 201, proposed.get_json()
    api.clock.set(datetime(2027, 3, 10, 12, 0, tzinfo=UTC))
    for sid, status in ((sessions[0]["id"], "present"), (sessions[1]["id"], "absent")):
        r = api.put(
            f"/sessions/{sid}/attendance",
            json={"records": [{"patient_id": PATIENT_ID, "status": status}]},
        )
        assert r.status_code == 200, r.get_json()
    token = api.post(f"/patients/{PATIENT_ID}/feed-tokens")
    assert token.status_code == 201, token.get_json()
    return {
        "group": group,
        "sessions": sessions,
        "enrollment": enrollment,
        "invitation": invitation,
        "proposed": proposed,
        "feed": "/" + token.get_json()["url"].split("://", 1)[1].split("/", 1)[1],
    }


def test_no_planted_value_is_stored_in_clear_and_the_api_still_answers_it(
    planted_api: Api, keyed: StoreSettings
) -> None:
    api = planted_api
    planted = plant(api)
    gid = planted["group"]["id"]

    # The API answers every planted value from the sealed views and service tables.
    listed = {g["id"]: g for g in api.get("/groups").get_json()["items"]}
    assert listed[gid]["name"] == GROUP_NAME and listed[gid]["modality"] == "ipt"
    enrolled = api.get(f"/groups/{gid}/enrollments").get_json()["items"]
    assert [(e["patient_id"], e["patient_name"], e["primary_area"]) for e in enrolled][0] == (
        PATIENT_ID,
        PATIENT_NAME,
        "grief",
    )
    report = api.get(f"/reports/attendance?group_id={gid}").get_json()
    assert {p["patient_id"] for p in report["patients"]} == {PATIENT_ID}
    attendance = api.get(f"/patients/{PATIENT_ID}/attendance").get_json()
    assert attendance["overall"]["recorded"] == 2 and attendance["groups"][0]["group_id"] == gid
    statement = api.get(f"/patients/{PATIENT_ID}/statement").get_json()
    assert {line["patient_id"] for line in statement["lines"]} == {PATIENT_ID}
    assert len(statement["lines"]) == 2
    feed = api.get(planted["feed"], role=None)
    assert feed.status_code == 200 and feed.get_data().count(b"BEGIN:VEVENT") == 12
    therapist = api.get("/therapists/t-ana/sessions?limit=50", role="therapist").get_json()
    assert len(therapist["items"]) == 12
    replay = api.post(
        f"/sessions/{planted['sessions'][2]['id']}/invitations",
        json=planted["invitation"],
        headers={"Idempotency-Key": "propose-1"},
    )
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == planted["proposed"].get_json()
    assert replay.get_json()["invitee_email"] == EMAIL

    services = api.app.extensions["circles"]
    views = services.reads.projector
    iid = planted["proposed"].get_json()["id"]
    invited = views.calendars.session_for_invitation(iid)
    assert (invited.patient_id, invited.invitee_name, invited.relationship) == (
        PATIENT_ID,
        INVITEE_NAME,
        RELATIONSHIP,
    )
    roster = views.attendance.roster(planted["sessions"][0]["id"])
    assert [(p.patient_id, p.name) for p in roster.patients] == [
        ("p-other", "Patient p-other"),
        (PATIENT_ID, PATIENT_NAME),
    ]

    found = leaked(stored_bytes(keyed))
    if keyed.cipher_key:
        assert found == set()
    else:  # the demo keeps plain text: the same search finds every value
        assert found == set(NEEDLES)
    assert_views_equal_a_rebuild(services.circles, views, keyed)
    if keyed.cipher_key:
        assert leaked(stored_bytes(keyed)) == set()
