"""Feeds as other calendar software reads them: libical's restriction check (issue 10 item
8) and the same UTC instants in every parser across a year end (item 8b).

These tests skip outside CI when libical or ical.js is not installed (saying what to run)
and fail in CI (``CIRCLES_REQUIRE_ALL=1``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from projections.calendars import CalendarEntry
from service import ical
from tests.feeds.conftest import assert_passes_libical, icaljs_instants, libical, parse
from tests.feeds.test_feeds import CONSENT, PATIENT, clinic, fetch, issue, path_of
from tests.feeds.test_ical import entry
from tests.service.conftest import Api

ZONES = {
    "north-America/New_York": "America/New_York",
    "north-Europe/Berlin": "Europe/Berlin",
    "south-Australia/Sydney": "Australia/Sydney",
    "south-America/Santiago": "America/Santiago",
}


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected(entries: list[CalendarEntry]) -> dict[str, list[str]]:
    """What Python's zoneinfo says each session's start and end are, in UTC."""
    return {ical.uid(e): [utc(e.starts_at), utc(e.ends_at)] for e in entries}


def across_a_year_end(tzid: str) -> list[CalendarEntry]:
    """Weekly evening sessions from September 2026 to May 2027 (both of the year's clock
    changes, north and south, and the year end between them), plus a morning session on
    each day the zone changes its clock."""
    entries = [
        entry(n, tzid, datetime(2026, 9, 1, 18) + timedelta(weeks=n)) for n in range(36)
    ]  # fmt: skip
    days = sorted({o.at.date() for o in ical.onsets(tzid, *span(2026, 2027, tzid))[1:]})
    assert len(days) == 4  # two changes a year, two years
    entries += [entry(100 + i, tzid, datetime.combine(d, datetime.min.time()).replace(hour=9))
                for i, d in enumerate(days)]  # fmt: skip
    return entries


def span(first: int, last: int, tzid: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tzid)
    return (
        datetime(first, 1, 1, tzinfo=zone).astimezone(UTC),
        datetime(last + 1, 1, 1, tzinfo=zone).astimezone(UTC),
    )


def read_by_python_parsers(body: bytes) -> dict[str, list[str]]:
    parsed = parse(body)
    mine = {str(e["UID"]): [utc(e["DTSTART"].dt), utc(e["DTEND"].dt)] for e in parsed.events}
    theirs = {str(v.uid.value): [utc(v.dtstart.value), utc(v.dtend.value)] for v in parsed.vevents}
    assert mine == theirs
    return mine


# --- item 8: libical's restriction check --------------------------------------------------------


def test_every_feed_passes_libicals_restriction_check_without_method_or_organizer(
    api: Api,
) -> None:
    """A subscription feed is not an iTIP message: no ``METHOD``, so RFC 5546's ORGANIZER
    requirement for PUBLISH does not apply, and libical's check passes every kind of feed."""
    world = clinic(api)
    api.post(f"/sessions/{world['ny_sessions'][1]['id']}/cancel", json={"reason": "ill"})
    sid = world["ny_sessions"][3]["id"]
    r = api.post(
        f"/sessions/{sid}/invitations",
        json={"patient_id": PATIENT, "invitee_name": "Sam Partner", "relationship": "spouse"},
    )
    iid = r.get_json()["id"]
    api.post(f"/invitations/{iid}/approve", role="therapist")
    api.post(f"/invitations/{iid}/consent", json=CONSENT)
    invitee = api.post(f"/invitations/{iid}/send").get_json()["url"] + ".ics"
    bodies = {
        "patient": fetch(api, issue(api, "patients", PATIENT)["url"]).data,
        "therapist": fetch(api, issue(api, "therapists", "t-ana")["url"]).data,
        "invitee": api.get(path_of(invitee), role=None).data,
        "group": api.get(f"/groups/{world['berlin']['id']}/calendar.ics").data,
        "empty": ical.render([]),
    }
    for name, body in bodies.items():
        assert b"METHOD" not in body and b"ORGANIZER" not in body, name
        verdict = assert_passes_libical(body)
        assert len(verdict["events"]) == len(parse(body).events), name
    assert len(libical(bodies["patient"])["events"]) == 16


def test_a_publish_feed_without_organizer_is_what_libical_refuses() -> None:
    """The check bites: the feed as it was (``METHOD:PUBLISH``, no ORGANIZER) fails it."""
    body = ical.render([entry(1, "Europe/Berlin", datetime(2027, 2, 10, 18, 30))])
    old = body.replace(b"CALSCALE:GREGORIAN\r\n", b"CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n")
    verdict = libical(old)
    assert verdict["restrictions_ok"] is False
    assert any("ORGANIZER" in error for error in verdict["errors"]), verdict
    assert_passes_libical(body)


# --- item 8b: the same instants in every parser ------------------------------------------------


@pytest.mark.parametrize("tzid", ZONES.values(), ids=ZONES.keys())
def test_every_parser_reads_the_instants_zoneinfo_gives_across_a_year_end(tzid: str) -> None:
    entries = across_a_year_end(tzid)
    body = ical.render(entries)
    want = expected(entries)
    assert icaljs_instants(body) == want
    assert libical(body)["events"] == want
    assert read_by_python_parsers(body) == want
    # One VTIMEZONE for the two years, every onset of an observance in its RDATEs.
    (zone,) = icalendar.Calendar.from_ical(body).walk("VTIMEZONE")
    for observance in zone.subcomponents:
        first = observance["DTSTART"].dt
        rdates = [d.dt for prop in _list(observance["RDATE"]) for d in prop.dts]
        assert rdates[0] == first and rdates == sorted(rdates)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_icalendars_own_vtimezone_puts_icaljs_an_hour_off_which_is_why_the_feed_writes_its_own(
) -> None:  # fmt: skip
    """The bug the feed's VTIMEZONE avoids (and proof that this comparison can fail):
    ``Timezone.from_tzid`` leaves each observance's first onset out of its RDATEs, and
    ical.js then reads the first autumn's sessions in the wrong offset."""
    entries = across_a_year_end("America/New_York")
    body = ical.render(entries)
    begin, end = body.index(b"BEGIN:VTIMEZONE"), body.index(b"END:VTIMEZONE\r\n") + 15
    library = icalendar.Timezone.from_tzid(
        "America/New_York", first_date=date(2026, 1, 1), last_date=date(2028, 1, 1)
    ).to_ical()
    theirs = icaljs_instants(body[:begin] + library + body[end:])
    want = expected(entries)
    wrong = {uid for uid in want if theirs[uid] != want[uid]}
    session = f"{entries[8].session_id}@circles"  # 2026-10-27 18:00 EDT
    assert (
        want[session][0] == "2026-10-27T22:00:00Z" and theirs[session][0] == "2026-10-27T23:00:00Z"
    )
    assert session in wrong
    assert icaljs_instants(body) == want


def test_a_therapist_feed_from_october_into_january_reads_the_same_instants_in_icaljs(
    api: Api,
) -> None:
    """The case reported: New York sessions from 1 October 2026 into January 2027."""
    api.clock.set(datetime(2026, 9, 20, 12, tzinfo=UTC))
    group = api.group(facilitator_ids=["t-ana"])
    sessions = api.plan(group["id"], first_date="2026-10-01", count=16)
    body = fetch(api, issue(api, "therapists", "t-ana")["url"]).data
    want = {
        f"{s['id']}@circles": [
            utc(datetime.fromisoformat(s["starts_at"])),
            utc(datetime.fromisoformat(s["ends_at"])),
        ]
        for s in sessions
    }
    assert {v[0][:10] for v in want.values()} >= {"2026-10-29", "2027-01-14"}
    assert want[f"{sessions[3]['id']}@circles"][0] == "2026-10-22T22:00:00Z"  # EDT
    assert want[f"{sessions[6]['id']}@circles"][0] == "2026-11-12T23:00:00Z"  # EST
    assert icaljs_instants(body) == want
    assert libical(body)["events"] == want
    assert read_by_python_parsers(body) == want


REPEATED_HOURS = [  # local times that occur twice, the second time (fold=1), and the first
    ("America/New_York", datetime(2027, 11, 7, 1, 10)),
    ("Europe/Berlin", datetime(2026, 10, 25, 2, 30)),
    ("Australia/Sydney", datetime(2027, 4, 4, 2, 15)),
    ("America/Santiago", datetime(2027, 4, 3, 23, 20)),
]


@pytest.mark.parametrize(("tzid", "local"), REPEATED_HOURS, ids=[z for z, _ in REPEATED_HOURS])
def test_a_session_in_the_repeated_hour_is_read_at_its_own_instant_by_every_parser(
    tzid: str, local: datetime
) -> None:
    zone = ZoneInfo(tzid)
    second = local.replace(tzinfo=zone, fold=1)
    first = local.replace(tzinfo=zone, fold=0)
    assert second.utcoffset() != first.utcoffset()  # really a repeated hour

    def after(start: datetime, minutes: int) -> datetime:  # in absolute time
        return (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(zone)

    entries = [
        entry(1, tzid, local, starts_at=second, ends_at=after(second, 90)),
        entry(2, tzid, local, starts_at=first, ends_at=after(first, 30)),
        entry(3, tzid, local + timedelta(days=2)),  # an ordinary one: written in local time
    ]
    body = ical.render(entries)
    want = expected(entries)
    assert icaljs_instants(body) == want
    assert libical(body)["events"] == want
    assert read_by_python_parsers(body) == want
    events = {str(e["UID"]): e for e in parse(body).events}
    assert "TZID" not in events[ical.uid(entries[0])]["DTSTART"].params  # written in UTC
    assert str(events[ical.uid(entries[2])]["DTSTART"].params["TZID"]) == tzid
