"""The page a patient's calendar link opens (``/feeds/{token}``): a button per calendar app,
the ``webcal://`` link, the dates of the next sessions and nothing else; the feed unchanged."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from urllib.parse import quote

from service.logmask import mask
from tests.feeds.test_feeds import (
    CLINICAL_WORDS,
    OTHERS,
    PATIENT,
    PATIENT_NAME,
    VIDEO,
    clinic,
    issue,
)
from tests.service.conftest import problem
from tests.web.conftest import Site

DATES = re.compile(r"<li>(\w+day \d+ \w+ \d{4}, \d\d:\d\d–\d\d:\d\d \w+)</li>")


def test_the_patients_link_opens_a_page_with_a_button_per_calendar(site: Site) -> None:
    api = site.api
    world = clinic(api)
    api.clock.set(datetime(2027, 3, 20, 12, 0, tzinfo=UTC))
    token = issue(api, "patients", PATIENT)["token"]
    r = api.get(f"/feeds/{token}", role=None)
    assert r.status_code == 200 and r.mimetype == "text/html"
    text = r.get_data(as_text=True)
    webcal = f"webcal://localhost/feeds/{token}.ics"
    google = "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe="")
    https = quote(f"http://localhost/feeds/{token}.ics", safe="")
    outlook = f"https://outlook.live.com/calendar/0/addfromweb?url={https}&name=Group%20sessions"
    for label, href in [("Add to Apple Calendar", webcal), ("Add to Google Calendar", google),
                        ("Add to Outlook", outlook)]:  # fmt: skip
        assert f'href="{html.escape(href)}"' in text and label in text
    assert f'value="http://localhost/feeds/{token}.ics"' in text
    # The next six sessions of both groups, in time order, each in its own zone; nothing else.
    assert DATES.findall(text) == [
        "Tuesday 23 March 2027, 18:00–19:30 EDT",
        "Tuesday 30 March 2027, 18:00–19:30 EDT",
        "Tuesday 6 April 2027, 18:00–19:30 EDT",
        "Saturday 10 April 2027, 18:30–20:00 CEST",  # Berlin, online
        "Tuesday 13 April 2027, 18:00–19:30 EDT",
        "Tuesday 20 April 2027, 18:00–19:30 EDT",
    ]
    lowered = text.lower()
    names = (PATIENT, PATIENT_NAME, world["ny"]["name"], world["berlin"]["name"], VIDEO,
             "room-1", "t-ana", "t-zed", *OTHERS)  # fmt: skip
    for absent in (*names, *OTHERS.values(), *CLINICAL_WORDS):
        assert not re.search(rf"\b{re.escape(absent.lower())}\b", lowered), absent
    headers = r.headers
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    assert "style-src 'self';" in headers["Content-Security-Policy"]
    assert not re.search(r'src="https?://', text)
    assert mask(f"GET /feeds/{token} HTTP/1.1") == "GET /feeds/*** HTTP/1.1"
    # The calendar itself is unchanged.
    feed = api.get(f"/feeds/{token}.ics", role=None)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"


def test_a_cancelled_session_is_left_out_and_an_ended_link_is_a_plain_404(site: Site) -> None:
    api = site.api
    world = clinic(api)
    api.clock.set(datetime(2027, 3, 20, 12, 0, tzinfo=UTC))
    cancelled = api.post(f"/sessions/{world['ny_sessions'][3]['id']}/cancel",
                         json={"reason": "Therapist ill"})  # fmt: skip
    assert cancelled.status_code == 200, cancelled.get_json()
    issued = issue(api, "patients", PATIENT)
    text = api.get(f"/feeds/{issued['token']}", role=None).get_data(as_text=True)
    assert DATES.findall(text)[0] == "Tuesday 30 March 2027, 18:00–19:30 EDT"
    # Kept while nothing changes; once the first session listed starts, it is left out.
    api.clock.set(datetime(2027, 3, 30, 21, 59, tzinfo=UTC))
    again = api.get(f"/feeds/{issued['token']}", role=None).get_data(as_text=True)
    assert DATES.findall(again)[0] == "Tuesday 30 March 2027, 18:00–19:30 EDT"
    api.clock.set(datetime(2027, 3, 30, 22, 1, tzinfo=UTC))
    later = api.get(f"/feeds/{issued['token']}", role=None).get_data(as_text=True)
    assert DATES.findall(later)[0] == "Tuesday 6 April 2027, 18:00–19:30 EDT"
    # Rotation ends the old link; revoking the new one ends it too: a plain 404 page.
    rotated = issue(api, "patients", PATIENT)
    for token in (issued["token"], "B" * 43):
        gone = api.get(f"/feeds/{token}", role=None)
        assert gone.status_code == 404 and "Link not found" in gone.get_data(as_text=True)
        assert gone.headers["Cache-Control"] == "no-store"
        problem(api.get(f"/feeds/{token}.ics", role=None), 404)
    assert api.delete(f"/feed-tokens/{rotated['id']}").status_code == 200
    assert api.get(f"/feeds/{rotated['token']}", role=None).status_code == 404


def test_an_invitation_link_opens_no_feed_page_and_a_therapists_shows_dates(site: Site) -> None:
    api = site.api
    world = clinic(api)
    api.clock.set(datetime(2027, 3, 20, 12, 0, tzinfo=UTC))
    sid = world["ny_sessions"][5]["id"]
    body = {"patient_id": PATIENT, "invitee_name": "Kim", "relationship": "parent"}
    iid = api.post(f"/sessions/{sid}/invitations", json=body).get_json()["id"]
    assert api.post(f"/invitations/{iid}/approve", role="therapist").status_code == 200
    consent = {"signed_by": "P", "signed_at": "2027-03-01T10:00:00+00:00", "document_ref": "d"}
    assert api.post(f"/invitations/{iid}/consent", json=consent).status_code == 200
    invitation = api.post(f"/invitations/{iid}/send").get_json()["url"].rsplit("/", 1)[1]
    assert api.get(f"/feeds/{invitation}", role=None).status_code == 404
    therapist = issue(api, "therapists", "t-zed")["token"]
    text = api.get(f"/feeds/{therapist}", role=None).get_data(as_text=True)
    assert DATES.findall(text)[0] == "Saturday 10 April 2027, 18:30–20:00 CEST"
