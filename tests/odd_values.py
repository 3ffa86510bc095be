"""Hypothesis strategies for extreme and odd values (issue 9 item 3), and the commands they feed.

Each strategy mixes values a careful client sends with the ones a careless client or an
attacker sends: dates at and past the input bounds (and at the ends of ``datetime``), text
from every Unicode category (controls, surrogates, private use, unassigned, separators),
huge and tiny numbers. ``odd_commands`` draws whole commands from them, as keyword arguments
of the application's use cases; the JSON API takes the same names, so the HTTP property sends
them as bodies. Most draws are refused; the point is that whatever is accepted yields events
every view applies.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

# Times at the edges: the input bounds in zones east and west of UTC, the ends of datetime,
# a skipped and a repeated hour.
EDGE_TIMES = [
    "2000-01-01T00:00", "1999-12-31T23:59", "1999-12-31T19:00", "2000-01-01T00:00:00+14:00",
    "2099-12-31T23:59", "2099-12-31T18:59:59", "2100-01-01T00:00", "2099-12-31T23:59:59-12:00",
    "0001-01-01T00:00", "0001-01-01T00:00:00+05:00", "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:00", "9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59+14:00",
    "2027-03-14T02:30", "2027-11-07T01:30", "2027-11-07T01:30-05:00", "2027-02-29T10:00",
    "2026-11-26T10:30", "2026-12-31T23:59:59", "2027-01-04T04:00Z", "2027-13-01T00:00",
    "2027-01-01T24:00", "", "now", "2027-01-01T10:00:00.123456+00:00",
]  # fmt: skip
EDGE_DATES = [
    "2000-01-01", "1999-12-31", "2099-12-31", "2100-01-01", "0001-01-01", "9999-12-31",
    "2099-11-01", "2027-02-29", "2028-02-29", "2027-03-14", "2027-11-07", "20270302", "",
]  # fmt: skip
ZONES = [
    "America/New_York", "Europe/Berlin", "UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago",
    "Australia/Lord_Howe", "Asia/Kathmandu", "America/St_Johns", "Antarctica/Troll",
    "localtime", "Factory", "posix/America/New_York", "right/America/New_York", "EST5EDT",
    "Mars/Olympus", "", "America/New_York\x00",
]  # fmt: skip
CURRENCIES = ["USD", "EUR", "JPY", "KWD", "CLF", "XAU", "XXX", "XYZ", "usd", "", "€"]
ODD_CHARACTERS = [
    "\x00", "\x01", "\x08", "\t", "\n", "\r\n", "\x1b", "\x7f", "\x85", "\x9f", "\u2028",
    "\u2029", "\u200b", "\u202e", "\ufeff", "\ufffe", "\uffff", "\ud800", "\U0010ffff",
    "\U0001f642", "ß", "李", "\u0301",
]  # fmt: skip


def mostly(valid: Any, odd: st.SearchStrategy[Any], weight: int = 5) -> st.SearchStrategy[Any]:
    """``valid`` most of the time, else an odd value: so that enough commands are accepted
    for the accepted ones to be odd in one respect at a time."""
    return st.integers(0, weight).flatmap(lambda n: odd if n == 0 else st.just(valid))


def odd_text(max_size: int = 30) -> st.SearchStrategy[str]:
    """Text from every Unicode category, lone surrogates included, or laced with odd
    characters; sometimes empty, blank or too long. Half of it has no control character or
    surrogate (format characters, private use, unassigned, separators: text to accept)."""
    every_category = st.characters(exclude_categories=())
    acceptable = st.characters(exclude_categories=("Cc", "Cs"))
    return st.one_of(
        st.text(acceptable, min_size=1, max_size=max_size).filter(str.strip),
        st.text(acceptable, min_size=1, max_size=max_size).filter(str.strip),
        st.text(every_category, min_size=1, max_size=max_size),
        st.lists(
            st.one_of(st.sampled_from(ODD_CHARACTERS), st.text(min_size=1, max_size=3)),
            min_size=1,
            max_size=6,
        ).map("".join),
        st.sampled_from(["", "   ", "x" * 501, "Sam", "Pat One"]),
    )


def odd_id() -> st.SearchStrategy[str]:
    valid = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:@-]{0,12}\Z")
    odd = st.one_of(odd_text(12), st.sampled_from(["p²", "x" * 101, "-p", "p 1"]))
    return st.integers(0, 3).flatmap(lambda n: odd if n == 0 else valid)


def odd_number() -> st.SearchStrategy[Any]:
    """Huge and tiny numbers, and things that are not numbers."""
    return st.one_of(
        st.integers(-(2**70), 2**70),
        st.sampled_from([0, 1, -1, 2**31, 2**63, 10**30, True, None, "3", 1.5, float("nan")]),
        st.floats(allow_nan=True, allow_infinity=True),
    )


def odd_amount() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.sampled_from(
            [
                "0",
                "0.00",
                "999999999.99",
                "1000000000",
                "1e9",
                "1E-7",
                "-0",
                "NaN",
                "Infinity",
                "85.00",
                "85.001",
                " 85",
                "٣",
                "1_000",
                85,
                85.5,
                None,
            ]  # fmt: skip
        ),
    )


def odd_moment() -> st.SearchStrategy[Any]:
    """A time as a request carries it: local, with an offset, or not a time at all."""
    offsets = st.one_of(
        st.just(""), st.just("Z"), st.sampled_from(["+05:00", "-05:00", "+14:00", "-12:00"])
    )
    wide = st.builds(
        lambda d, o: d.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + o,
        st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59)),
        offsets,
    )
    near = st.builds(
        lambda base, minutes, o: (
            (datetime(2027, 1, 4, 9) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M") + o
        ),
        st.just(None),
        st.integers(-60 * 24 * 400, 60 * 24 * 400),
        offsets,
    )
    bounded = st.builds(
        lambda d, o: d.strftime("%Y-%m-%dT%H:%M:%S") + o,
        st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59)),
        offsets,
    )
    return st.one_of(st.sampled_from(EDGE_TIMES), wide, near, near, bounded, odd_number())


def odd_date() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(EDGE_DATES),
        st.dates().map(lambda d: d.isoformat().rjust(10, "0")),
        st.dates(date(2000, 1, 1), date(2099, 12, 31)).map(date.isoformat),
        st.dates(date(2099, 10, 1), date(2099, 12, 31)).map(date.isoformat),
        odd_number(),
    )


def fees(currency_strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    amount = mostly("85.00", odd_amount(), 8)
    return st.fixed_dictionaries(
        {
            "session_fee": amount,
            "maintenance_fee": amount,
            "no_show_fee": amount,
            "late_cancel_fee": amount,
        },
        optional={
            "late_cancel_window_hours": mostly(24, st.one_of(st.integers(0, 720), odd_number()), 2),
            "billing_codes": st.dictionaries(
                st.sampled_from(["regular", "intake", "maintenance", "other"]),
                mostly("90853", odd_text(21), 2),
                max_size=2,
            ),
        },
    )


def new_group() -> st.SearchStrategy[dict[str, Any]]:
    """A group's settings: a valid in-person group with some settings made odd."""
    currency = mostly("USD", st.sampled_from(CURRENCIES))
    return st.fixed_dictionaries(
        {
            "name": mostly("Odd group", odd_text(), 2),
            "modality": st.sampled_from(["ipt", "maintenance"]),
            "format": st.just("hybrid"),
            "facilitator_ids": mostly(["t-odd"], st.lists(odd_id(), max_size=2)),
            "room_id": mostly("room-odd", odd_id()),
            "video_url": mostly(
                "https://meet.example/odd",
                odd_text(40).map(lambda t: f"https://meet.example/{t}"),
                2,
            ),
            "timezone": mostly("America/New_York", st.sampled_from(ZONES), 2),
            "currency": currency,
            "fees": fees(currency),
            "max_size": mostly(8, odd_number()),
        },
        optional={"length_override_reason": odd_text(60)},
    )


def plan_body() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "first_date": mostly("2027-03-02", odd_date(), 1),
            "start_time": mostly(
                "18:00", st.sampled_from(["00:00", "23:59", "02:30", "24:00", "1:00"]), 2
            ),
            "duration_minutes": mostly(90, st.one_of(st.sampled_from([15, 480]), odd_number())),
            "count": st.one_of(st.integers(1, 3), st.integers(1, 3), odd_number()),
        },
        optional={"skip_dates": st.lists(odd_date(), max_size=2)},
    )


def odd_commands() -> st.SearchStrategy[list[tuple[str, dict[str, Any]]]]:
    """Commands on one group (created first, then changed): (name, arguments).

    Names: ``create_group``, ``plan``, ``enroll``, ``reschedule``, ``fees``, ``cancel``,
    ``cancel_ahead``, ``invite`` and ``consent``; sessions and enrollments are picked by
    index among those that exist when the command runs.
    """
    index = st.integers(0, 5)
    command = st.one_of(
        st.tuples(st.just("plan"), plan_body()),
        st.tuples(
            st.just("enroll"),
            st.fixed_dictionaries(
                {"patient_id": odd_id(), "patient_name": odd_text()},
                optional={"enrolled_since": odd_moment()},
            ),
        ),
        st.tuples(
            st.just("reschedule"),
            st.fixed_dictionaries(
                {"session": index, "starts_at": odd_moment(), "reason": odd_text()}
            ),
        ),
        st.tuples(
            st.just("fees"),
            st.fixed_dictionaries(
                {"fees": fees(st.just("USD"))}, optional={"fees_effective_from": odd_moment()}
            ),
        ),
        st.tuples(
            st.just("cancel"), st.fixed_dictionaries({"session": index, "reason": odd_text(600)})
        ),
        st.tuples(
            st.just("cancel_ahead"),
            st.fixed_dictionaries({"session": index, "patient": index, "told_at": odd_moment()}),
        ),
        st.tuples(
            st.just("invite"),
            st.fixed_dictionaries(
                {
                    "session": index,
                    "patient": index,
                    "invitee_name": odd_text(),
                    "relationship": odd_text(),
                },
                optional={"invitee_email": odd_text(20).map(lambda t: f"{t}@example.org")},
            ),
        ),
        st.tuples(
            st.just("consent"),
            st.fixed_dictionaries(
                {"signed_by": odd_text(), "signed_at": odd_moment(), "document_ref": odd_text()}
            ),
        ),
    )
    return st.tuples(
        st.tuples(st.just("create_group"), new_group()), st.lists(command, max_size=8)
    ).map(lambda pair: [pair[0], *pair[1]])
