"""SPEC §5 input bounds, in the domain: every entry point (API, pages, CLI) gets them here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain.application import Circles
from domain.bounds import (
    EARLIEST,
    LATEST,
    canonical_zone,
    clean_id,
    clean_text,
    currency_code,
    local_datetime,
)
from domain.errors import InvalidInputError
from domain.values import FeeSchedule, minor_unit
from projections.store import StoreSettings
from tests.conftest import Clock
from tests.domain.helpers import FEES, group_args, make_group, plan

NY = ZoneInfo("America/New_York")


@pytest.fixture
def app(clock: Clock) -> Iterator[Circles]:
    """The refusals come before anything is stored: the in-memory store is enough."""
    application = Circles(env=StoreSettings("memory").eventsourcing_env(), clock=clock)
    yield application
    application.close()


# --- the functions ----------------------------------------------------------------------------


def test_a_time_without_an_offset_is_the_zones_wall_clock_time() -> None:
    moment = local_datetime("2026-11-26T10:30", NY, "signed_at")
    assert moment == datetime(2026, 11, 26, 10, 30, tzinfo=NY)
    assert moment.utcoffset() == timedelta(hours=-5)


def test_a_time_with_an_offset_is_converted_to_the_zone() -> None:
    moment = local_datetime("2026-11-26T10:30:00+01:00", NY, "signed_at")
    assert moment.astimezone(UTC) == datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    assert moment.tzinfo is NY
    assert local_datetime("2026-11-26T15:30Z", "America/New_York", "x").hour == 10


def test_a_local_time_the_clocks_skip_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInputError, match="does not exist") as refused:
        local_datetime("2027-03-14T02:30", NY, "enrolled_since")
    assert refused.value.field == "enrolled_since"


def test_in_the_repeated_hour_a_time_without_an_offset_is_the_first() -> None:
    first = local_datetime("2027-11-07T01:30", NY, "starts_at")
    second = local_datetime("2027-11-07T01:30-05:00", NY, "starts_at")
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+05:00",
        "0001-01-01T00:00",
        "9999-12-31T23:59:59-05:00",
        "9999-12-31T23:00",
        "1999-12-31T18:59",  # 23:59 UTC on the last day before the bounds
        "2099-12-31T19:00",  # 2100-01-01 00:00 UTC: the first instant past them
        "2100-01-01T00:00-01:00",
    ],
)
def test_times_outside_the_bounds_are_refused(value: str) -> None:
    with pytest.raises(InvalidInputError, match="must be from 2000-01-01") as refused:
        local_datetime(value, NY, "starts_at")
    assert refused.value.field == "starts_at"


def test_the_bounds_themselves() -> None:
    assert local_datetime("1999-12-31T19:00", NY, "t") == EARLIEST
    assert local_datetime("2099-12-31T18:59:59", NY, "t") == LATEST - timedelta(seconds=1)


@pytest.mark.parametrize(
    "value", ["2027-03-14", "2027-03-14 18:00", "20270314T1800", "2027-02-30T10:00", 17, None, ""]
)
def test_anything_but_a_local_date_time_is_refused(value: object) -> None:
    with pytest.raises(InvalidInputError):
        local_datetime(value, NY, "starts_at")


def test_a_time_that_records_the_past_is_not_in_the_future() -> None:
    now = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    assert local_datetime("2027-01-04T04:00", NY, "signed_at", not_after=now)
    with pytest.raises(InvalidInputError, match="future"):
        local_datetime("2027-01-04T04:01", NY, "signed_at", not_after=now)


@pytest.mark.parametrize(
    "name",
    ["localtime", "Factory", "posix/America/New_York", "right/America/New_York", "EST5EDT",
     "CST6CDT", "PST8PDT", "MST7MDT", "EST", "Mars/Olympus", "", "../etc/passwd",
     "/usr/share/zoneinfo/UTC", "America/New_York\x00", None, 5],
)  # fmt: skip
def test_only_canonical_iana_zones_are_accepted(name: object) -> None:
    with pytest.raises(InvalidInputError, match="not an IANA time zone") as refused:
        canonical_zone(name)
    assert refused.value.field == "timezone"


@pytest.mark.parametrize(
    "name", ["America/New_York", "Europe/Berlin", "UTC", "Australia/Lord_Howe", "Asia/Kolkata"]
)
def test_canonical_zones_are_accepted(name: str) -> None:
    assert canonical_zone(name).key == name


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\t", "\r", "\x1b", "\x7f", "\x85",
                                  "\x9f"])  # fmt: skip
def test_text_refuses_control_characters(char: str) -> None:
    with pytest.raises(InvalidInputError, match="control characters") as refused:
        clean_text(f"Pat{char}One", "patient_name")
    assert refused.value.field == "patient_name"


def test_multi_line_text_allows_line_breaks_only() -> None:
    assert clean_text("moved\r\nto Thursday\n", "reason", multiline=True) == "moved\nto Thursday"
    with pytest.raises(InvalidInputError):
        clean_text("moved\nto\x00Thursday", "reason", multiline=True)
    with pytest.raises(InvalidInputError):
        clean_text("moved\tto Thursday", "reason", multiline=True)
    with pytest.raises(InvalidInputError):
        clean_text("two\nlines", "patient_name")


def test_text_is_trimmed_non_empty_bounded_and_valid_unicode() -> None:
    assert clean_text("  Renée Ødegård 李 🙂 ", "name") == "Renée Ødegård 李 🙂"
    for bad in ("", "   ", "\ud800", "x" * 201, None, 5):
        with pytest.raises(InvalidInputError):
            clean_text(bad, "name")


@pytest.mark.parametrize("value", ["", "p 1", "p1\x00", "-p1", "p/1", "p²", "x" * 101, None, 7])
def test_ids_are_clinic_identifiers(value: object) -> None:
    with pytest.raises(InvalidInputError, match="letters, digits|non-empty|longer than 100"):
        clean_id(value, "patient_id")


def test_ids_keep_what_was_given() -> None:
    assert clean_id("EHR-0042.a:b@c_d", "patient_id") == "EHR-0042.a:b@c_d"
    assert clean_id(" p1 ", "patient_id") == "p1"


@pytest.mark.parametrize("code", ["XYZ", "eur", "EURO", "XAU", "XXX", "", None])
def test_currencies_are_iso_4217(code: object) -> None:
    with pytest.raises(InvalidInputError, match="ISO 4217"):
        currency_code(code)


def test_minor_units_come_from_iso_4217() -> None:
    assert minor_unit("JPY") == Decimal(1)
    assert minor_unit("KWD") == Decimal("0.001")
    assert minor_unit("EUR") == Decimal("0.01")
    assert minor_unit("CLF") == Decimal("0.0001")


def test_billing_codes_are_clean_short_text() -> None:
    for code in ("90\x0053", "90\x1b53", "x" * 21, " "):
        with pytest.raises(InvalidInputError) as refused:
            FeeSchedule.parse("USD", {**FEES, "billing_codes": {"regular": code}})
        assert refused.value.field == "fees.billing_codes.regular"


# --- through the commands ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "Tuesday\x00IPT"}, "name"),
        ({"room_id": "room\x001"}, "room_id"),
        ({"facilitator_ids": ["t-\x1bana"]}, "facilitator_ids"),
        ({"format": "hybrid", "video_url": "https://meet.example/a\x00b"}, "video_url"),
        ({"format": "hybrid", "video_url": "https://meet.example/a\x7fb"}, "video_url"),
        ({"timezone": "right/America/New_York"}, "timezone"),
        ({"timezone": "localtime"}, "timezone"),
        ({"currency": "XYZ"}, "currency"),
        ({"length_override_reason": "a\x00b"}, "length_override_reason"),
    ],
)
def test_create_group_refuses_out_of_bounds_input(
    app: Circles, overrides: dict, field: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        app.create_group("coord-1", **group_args(**overrides))
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("plan_overrides", "field"),
    [
        ({"first_date": "9999-12-31", "start_time": "23:00", "count": 1}, "first_date"),
        ({"first_date": "0001-01-01", "start_time": "00:00", "count": 1}, "first_date"),
        ({"first_date": "1999-12-28"}, "first_date"),
        ({"first_date": "2099-12-01", "count": 12}, "first_date"),  # runs past 2100
        ({"skip_dates": ["9999-12-31"]}, "skip_dates"),
    ],
)
def test_a_plan_outside_the_bounds_is_refused(
    app: Circles, plan_overrides: dict, field: str
) -> None:
    gid = make_group(app)
    with pytest.raises(InvalidInputError) as refused:
        plan(app, gid, **plan_overrides)
    assert refused.value.field == field
    assert app.get_group(gid).session_ids == []


@pytest.mark.parametrize(
    "starts_at", ["9999-12-31T23:00", "0001-01-01T00:00", "1999-06-01T10:00", "2100-06-01T10:00"]
)
def test_a_reschedule_outside_the_bounds_is_refused(app: Circles, starts_at: str) -> None:
    gid = make_group(app)
    sid = plan(app, gid)[0]
    before = app.get_session(sid).starts_at
    with pytest.raises(InvalidInputError) as refused:
        app.reschedule_session(sid, "coord-1", starts_at, "moved")
    assert refused.value.field == "starts_at"
    assert app.get_session(sid).starts_at == before


@pytest.mark.parametrize(
    "since", ["0001-01-01T00:00:00+05:00", "1999-12-31T00:00", "2027-01-05T10:00"]
)
def test_enrolled_since_is_bounded_and_not_in_the_future(app: Circles, since: str) -> None:
    gid = make_group(app)
    with pytest.raises(InvalidInputError) as refused:
        app.enroll(gid, "coord-1", "p1", "Pat", enrolled_since=since)
    assert refused.value.field == "enrolled_since"
    assert app.get_group(gid).enrollment_ids == {}


def test_enrolled_since_takes_the_groups_local_time(app: Circles) -> None:
    gid = make_group(app)
    eid, _ = app.enroll(gid, "coord-1", "p1", "Pat", enrolled_since="2026-11-26T10:30")
    assert app.get_enrollment(eid).enrolled_at == datetime(2026, 11, 26, 10, 30, tzinfo=NY)


@pytest.mark.parametrize("effective", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00"])
def test_fees_effective_from_is_bounded(app: Circles, effective: str) -> None:
    gid = make_group(app)
    with pytest.raises(InvalidInputError) as refused:
        app.update_group(gid, "coord-1", fees=FEES, fees_effective_from=effective)
    assert refused.value.field == "fees_effective_from"


def test_fees_effective_from_may_be_ahead(app: Circles, clock: Clock) -> None:
    gid = make_group(app)
    group = app.update_group(
        gid,
        "coord-1",
        fees={**FEES, "session_fee": "90.00"},
        fees_effective_from="2027-06-01T00:00",
    )
    assert group.fees_for(datetime(2027, 7, 1, tzinfo=UTC)).session_fee == Decimal("90.00")
    assert group.fees_for(datetime(2027, 5, 1, tzinfo=UTC)).session_fee == Decimal("85.00")


def test_consent_takes_local_time_and_refuses_the_future(app: Circles, clock: Clock) -> None:
    gid = make_group(app)
    sid = plan(app, gid)[0]
    app.enroll(gid, "coord-1", "p1", "Pat")
    iid = app.propose_invitation(sid, "coord-1", "p1", "Sam", "spouse")
    app.approve_invitation(iid, "t-ana", therapist_id="t-ana")
    with pytest.raises(InvalidInputError) as refused:
        app.record_consent(iid, "coord-1", "Pat", "2027-01-05T10:00", "d-1")
    assert refused.value.field == "signed_at"
    invitation = app.record_consent(iid, "coord-1", "Pat", "2026-11-26T10:30", "d-1")
    assert invitation.consent is not None
    assert invitation.consent["signed_at"] == "2026-11-26T10:30:00-05:00"


def test_ids_in_commands_are_clinic_identifiers(app: Circles) -> None:
    gid = make_group(app)
    with pytest.raises(InvalidInputError) as refused:
        app.enroll(gid, "coord-1", "p\x001", "Pat")
    assert refused.value.field == "patient_id"
    with pytest.raises(InvalidInputError) as refused:
        app.enroll(gid, "coord-1", "p1", "Pat\x00")
    assert refused.value.field == "patient_name"
