"""Feeds over HTTP as polling clients use them (issue 10 item 8c): gzip when asked,
``Last-Modified`` / ``If-Modified-Since``, and no feed token for a subject nobody knows."""

from __future__ import annotations

import gzip
from datetime import timedelta

from werkzeug.http import http_date

from tests.feeds.test_feeds import PATIENT, clinic, fetch, issue
from tests.rebuilt import assert_views_equal_a_rebuild
from tests.service.conftest import Api, problem

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def test_a_feed_is_gzipped_when_the_client_asks_with_its_own_etag_and_vary(api: Api) -> None:
    world = clinic(api)
    url = issue(api, "patients", PATIENT)["url"]
    plain = fetch(api, url)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    packed = fetch(api, url, **GZIP)
    assert packed.status_code == 200 and packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding"
    assert packed.headers["Content-Type"] == plain.headers["Content-Type"]
    assert gzip.decompress(packed.data) == plain.data
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data) / 3
    assert packed.headers["ETag"] != plain.headers["ETag"]  # another representation
    assert fetch(api, url, **GZIP).data == packed.data  # byte-identical: no gzip timestamp
    for refusing in ("identity", "gzip;q=0", "br", "*;q=0"):
        r = fetch(api, url, **{"Accept-Encoding": refusing})
        assert "Content-Encoding" not in r.headers and r.data == plain.data, refusing
    assert fetch(api, url, **{"Accept-Encoding": "br, *;q=0.1"}).headers["Content-Encoding"]
    # If-None-Match is compared with the ETag of the representation this request gets.
    gz_etag, etag = packed.headers["ETag"], plain.headers["ETag"]
    r = fetch(api, url, **GZIP, **{"If-None-Match": gz_etag})
    assert r.status_code == 304 and r.data == b"" and r.headers["ETag"] == gz_etag
    assert r.headers["Vary"] == "Accept-Encoding"
    assert fetch(api, url, **{"If-None-Match": etag}).status_code == 304
    assert fetch(api, url, **GZIP, **{"If-None-Match": etag}).status_code == 200
    assert fetch(api, url, **{"If-None-Match": gz_etag}).status_code == 200
    # The group feed takes the same path.
    r = api.get(f"/groups/{world['ny']['id']}/calendar.ics", headers=GZIP)
    assert r.headers["Content-Encoding"] == "gzip" and gzip.decompress(r.data).startswith(
        b"BEGIN:VCALENDAR\r\n"
    )


def test_if_modified_since_gives_304_until_the_feed_changes(api: Api) -> None:
    world = clinic(api)
    url = issue(api, "patients", PATIENT)["url"]
    api.clock.set(api.clock.now.replace(microsecond=250_000))
    first = fetch(api, url)
    stamp = first.headers["Last-Modified"]
    assert stamp == http_date(api.clock.now.replace(microsecond=0))
    r = fetch(api, url, **{"If-Modified-Since": stamp})
    assert r.status_code == 304 and r.data == b""  # Last-Modified left out (RFC 9110 §15.4.5)
    assert r.headers["ETag"] == first.headers["ETag"] and "private" in r.headers["Cache-Control"]
    later = http_date(api.clock.now + timedelta(days=1))
    assert fetch(api, url, **{"If-Modified-Since": later}).status_code == 304
    earlier = http_date(api.clock.now - timedelta(seconds=1))
    assert fetch(api, url, **{"If-Modified-Since": earlier}).status_code == 200
    assert fetch(api, url, **{"If-Modified-Since": "yesterday"}).status_code == 200
    # If-None-Match, when sent, decides alone (RFC 9110 §13.1.3).
    both = {"If-Modified-Since": stamp, "If-None-Match": '"other"'}
    assert fetch(api, url, **both).status_code == 200
    # A write the patient does not see re-renders the same body: same date, still 304.
    api.clock.advance(hours=1)
    other = api.group(name="Other", facilitator_ids=["t-x"], room_id="room-9")
    api.plan(other["id"])
    assert fetch(api, url, **{"If-Modified-Since": stamp}).status_code == 304
    assert fetch(api, url).headers["Last-Modified"] == stamp
    # A change the patient sees moves the date: the old one gets the new body.
    sessions = world["ny_sessions"]
    assert (
        api.post(f"/sessions/{sessions[2]['id']}/cancel", json={"reason": "x"}).status_code == 200
    )
    changed = fetch(api, url, **{"If-Modified-Since": stamp})
    assert changed.status_code == 200 and b"STATUS:CANCELLED" in changed.data
    moved = changed.headers["Last-Modified"]
    assert moved == http_date(api.clock.now.replace(microsecond=0)) != stamp
    assert fetch(api, url, **{"If-Modified-Since": moved}).status_code == 304


def test_two_bodies_in_one_second_never_share_a_date_that_gives_304(api: Api) -> None:
    """A date has whole seconds: a body that changed within the second its predecessor was
    dated cannot be told apart by it, so If-Modified-Since gets the full body then."""
    world = clinic(api)
    url = issue(api, "patients", PATIENT)["url"]
    first = fetch(api, url)
    stamp = first.headers["Last-Modified"]
    sessions = world["ny_sessions"]
    api.clock.advance(microseconds=400_000)  # same second
    assert (
        api.post(f"/sessions/{sessions[5]['id']}/cancel", json={"reason": "x"}).status_code == 200
    )
    second = fetch(api, url, **{"If-Modified-Since": stamp})
    assert second.status_code == 200 and second.data != first.data
    assert second.headers["Last-Modified"] == stamp
    assert fetch(api, url, **{"If-Modified-Since": stamp}).status_code == 200
    assert fetch(api, url, **{"If-None-Match": second.headers["ETag"]}).status_code == 304
    # Rendered again in a later second with nothing changed for this patient: dated anew.
    api.clock.advance(seconds=2)
    api.group(name="Elsewhere", facilitator_ids=["t-y"], room_id="room-8")
    third = fetch(api, url, **{"If-Modified-Since": stamp})
    assert third.status_code == 200 and third.data == second.data
    settled = third.headers["Last-Modified"]
    assert settled == http_date(api.clock.now.replace(microsecond=0))
    assert fetch(api, url, **{"If-Modified-Since": settled}).status_code == 304


def test_a_feed_token_for_a_patient_never_enrolled_anywhere_is_refused_naming_the_reason(
    api: Api,
) -> None:
    head = api.app.extensions["circles"].head
    before = head.query()
    body = problem(api.post("/patients/p-typo/feed-tokens"), 404)
    assert body["reason"] == "never-enrolled" and body["patient_id"] == "p-typo"
    assert "p-typo" in body["detail"] and "never been enrolled" in body["detail"]
    body = problem(api.post("/therapists/t-nobody/feed-tokens"), 404)
    assert body["reason"] == "facilitates-no-group" and body["therapist_id"] == "t-nobody"
    assert head.query() == before  # nothing written
    # A group without sessions yet has a facilitator; a waitlisted patient is known.
    group = api.group(max_size=1, min_size=1, facilitator_ids=["t-new"], room_id="room-5")
    assert api.post("/therapists/t-new/feed-tokens").status_code == 201
    seated = api.enroll(group["id"], "p-seated")
    waiting = api.enroll(group["id"], "p-waiting")
    assert waiting["status"] == "waitlisted"
    assert api.post("/patients/p-waiting/feed-tokens").status_code == 201
    # Withdrawn stays known: past sessions stay in the feed.
    r = api.post(f"/enrollments/{seated['id']}/withdraw", json={"reason": "moved"})
    assert r.status_code == 200, r.get_json()
    assert api.post("/patients/p-seated/feed-tokens").status_code == 201
    # A therapist's id is not a patient's.
    problem(api.post("/patients/t-new/feed-tokens"), 404)
    problem(api.post("/therapists/p-seated/feed-tokens"), 404)
    services = api.app.extensions["circles"]
    views = services.require_reads().fresh()
    assert views.directory.therapist_facilitates_a_group("t-new")
    assert_views_equal_a_rebuild(services.circles, views, services.settings)
