"""Calendar links and guest approvals on the pages: the same tokens, rules and events as JSON."""

from __future__ import annotations

import html
import re
from typing import Any

import segno

from tests.web.conftest import Site

FEED = re.compile(r'value="(https?://[^"]+/feeds/([A-Za-z0-9_-]{43})\.ics)"')


def _issued(page: str) -> tuple[str, str]:
    """The https link (and its token) shown on a page that just issued one."""
    found = FEED.search(page)
    assert found, "the page shows no feed link"
    return found.group(1), found.group(2)


def _patient_in_group(site: Site) -> dict[str, Any]:
    group = site.api.group(name="Tuesday evening IPT")
    site.api.plan(group["id"])
    site.api.enroll(group["id"], "p-1", patient_name="Alex Moreno")
    return group


def test_a_coordinator_issues_a_patients_link_shown_once_as_links_and_qr(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator", name="Dana Reyes")
    _patient_in_group(site)
    browser = site.signed_in("dana@clinic.example")
    before = browser.text("/web/feed-links?kind=patient&id=p-1")
    assert "Alex Moreno" in before and "Tuesday evening IPT (enrolled)" in before
    assert "No calendar link has been issued yet." in before

    r = browser.submit("/web/feed-links?kind=patient&id=p-1", to="/web/feed-links",
                       kind="patient", id="p-1")  # fmt: skip
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    url, token = _issued(page)
    assert url == f"http://localhost/feeds/{token}.ics"
    assert f'href="webcal://localhost/feeds/{token}.ics"' in page
    google = "https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2Flocalhost%2Ffeeds%2F"
    assert html.escape(google + token + ".ics") in page
    assert "Shown once." in page and "cannot show it again" in page
    # The QR code is the link's own page (buttons per calendar app), as inline SVG with a
    # name for screen readers.
    assert site.api.get(f"/feeds/{token}", role=None).status_code == 200
    qr = segno.make(f"http://localhost/feeds/{token}", error="m").svg_inline(
        scale=4, dark="#000", light="#fff", svgclass="qr", omitsize=True,
        title="QR code of the calendar link",
    )  # fmt: skip
    assert qr.replace("<svg ", '<svg role="img" ', 1) in page
    assert r.headers["Cache-Control"] == "no-store"

    feed = site.api.get(f"/feeds/{token}.ics", role=None)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    assert feed.get_data(as_text=True).count("BEGIN:VEVENT") == 12

    after = browser.text("/web/feed-links?kind=patient&id=p-1")
    assert "is <strong>live</strong>" in after and token not in after


def test_issuing_again_rotates_and_revoking_stops_the_link(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator")
    _patient_in_group(site)
    browser = site.signed_in("dana@clinic.example")
    page = "/web/feed-links?kind=patient&id=p-1"
    _, first = _issued(browser.submit(page, to="/web/feed-links", kind="patient", id="p-1")
                       .get_data(as_text=True))  # fmt: skip
    _, second = _issued(browser.submit(page, to="/web/feed-links", kind="patient", id="p-1")
                        .get_data(as_text=True))  # fmt: skip
    assert first != second
    assert site.api.get(f"/feeds/{first}.ics", role=None).status_code == 404
    assert site.api.get(f"/feeds/{second}.ics", role=None).status_code == 200

    shown = browser.text(page)
    token_id = re.search(r'name="token_id" value="([^"]+)"', shown)
    version = re.search(r'name="version" value="(\d+)"', shown)
    assert token_id and version
    r = browser.submit(page, to="/web/feed-links/revoke", kind="patient", id="p-1",
                       token_id=token_id.group(1), version=version.group(1))  # fmt: skip
    assert r.status_code == 302
    assert site.api.get(f"/feeds/{second}.ics", role=None).status_code == 404
    revoked = browser.text(page)
    assert "The calendar link was revoked" in revoked and "<strong>revoked</strong>" in revoked
    assert 'name="token_id"' not in revoked  # nothing left to revoke

    # A stale page (the version it showed) is refused in words, nothing changed.
    r = browser.submit(page, to="/web/feed-links/revoke", kind="patient", id="p-1",
                       token_id=token_id.group(1), version=version.group(1))  # fmt: skip
    assert r.status_code == 412
    assert 'class="problem"' in r.get_data(as_text=True)


def test_refusals_are_in_words_beside_the_id_and_keep_what_was_typed(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator")
    _patient_in_group(site)
    browser = site.signed_in("dana@clinic.example")
    r = browser.submit("/web/feed-links", kind="patient", id="p-404")
    body = r.get_data(as_text=True)
    assert r.status_code == 404
    assert "has never been enrolled or waitlisted in any group" in body
    assert 'aria-invalid="true"' in body and "Check this id." in body
    assert 'value="p-404"' in body and "Shown once" not in body

    r = browser.submit("/web/feed-links", kind="patient", id="   ")
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert re.search(r'class="field-error" id="subject-id-error">[^<]*non-empty', body)

    r = browser.submit("/web/feed-links", kind="invitation", id="p-1")
    assert r.status_code == 200 and "Choose patient or therapist." in r.get_data(as_text=True)
    assert "Shown once" not in r.get_data(as_text=True)

    looked_up = browser.get("/web/feed-links?kind=therapist&id=" + "x" * 101)
    assert looked_up.status_code == 422
    assert "longer than 100 characters" in looked_up.get_data(as_text=True)

    # Without the form's token nothing is issued.
    r = browser.client.post("/web/feed-links", data={"kind": "patient", "id": "p-1"})
    assert r.status_code == 400
    assert "No calendar link has been issued yet." in browser.text(
        "/web/feed-links?kind=patient&id=p-1"
    )


def test_a_group_lists_its_patients_to_pick_from(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator")
    group = _patient_in_group(site)
    browser = site.signed_in("dana@clinic.example")
    page = browser.text(f"/web/feed-links?group_id={group['id']}")
    assert 'href="/web/feed-links?kind=patient&amp;id=p-1"' in page and "Alex Moreno" in page
    therapist = browser.text("/web/feed-links?kind=therapist&id=t-ana")
    assert "Facilitates: Tuesday evening IPT" in therapist


def test_a_therapist_issues_their_own_link_and_no_one_elses(site: Site) -> None:
    site.user("ana@clinic.example", "therapist", "t-ana", name="Ana Silva")
    _patient_in_group(site)
    browser = site.signed_in("ana@clinic.example")
    assert "No calendar link has been issued yet." in browser.text("/my/feed-link")
    r = browser.submit("/my/feed-link")
    assert r.status_code == 200
    url, token = _issued(r.get_data(as_text=True))
    feed = site.api.get(f"/feeds/{token}.ics", role=None).get_data(as_text=True)
    assert feed.count("BEGIN:VEVENT") == 12 and "Alex" not in feed
    _, again = _issued(browser.submit("/my/feed-link").get_data(as_text=True))
    assert site.api.get(f"/feeds/{token}.ics", role=None).status_code == 404
    assert site.api.get(f"/feeds/{again}.ics", role=None).status_code == 200
    # The coordinator's page is not theirs.
    assert browser.get("/web/feed-links").status_code == 403


def test_a_therapist_key_issues_only_its_own_feed_over_json(site: Site) -> None:
    _patient_in_group(site)
    site.api.group(name="Thursday MIT", modality="mit", facilitator_ids=["t-zed"])
    mine = site.api.post("/therapists/t-ana/feed-tokens", role="therapist")
    assert mine.status_code == 201 and mine.get_json()["subject_id"] == "t-ana"
    theirs = site.api.post("/therapists/t-zed/feed-tokens", role="therapist")
    assert theirs.status_code == 404
    assert theirs.get_json()["detail"] == "no therapist with id t-zed"
    assert site.api.post("/patients/p-1/feed-tokens", role="therapist").status_code == 403
    assert site.api.post("/therapists/t-zed/feed-tokens").status_code == 201  # coordinator


def _proposed(site: Site, session_id: str, name: str = "Sam Moreno") -> str:
    r = site.api.post(
        f"/sessions/{session_id}/invitations",
        json={"patient_id": "p-1", "invitee_name": name, "relationship": "spouse"},
    )
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["id"])


def test_a_therapist_approves_invitations_waiting_for_them(site: Site) -> None:
    ana = site.user("ana@clinic.example", "therapist", "t-ana", name="Ana Silva")
    site.user("zed@clinic.example", "therapist", "t-zed", name="Zed Okoro")
    group = site.api.group(name="Tuesday evening IPT")
    sessions = site.api.plan(group["id"])
    site.api.enroll(group["id"], "p-1", patient_name="Alex Moreno")
    other = site.api.group(name="Thursday MIT", modality="mit", facilitator_ids=["t-zed"],
                           room_id="room-2")  # fmt: skip
    theirs = site.api.plan(other["id"], first_date="2027-03-04")
    site.api.enroll(other["id"], "p-1", patient_name="Alex Moreno")
    iid = _proposed(site, sessions[1]["id"])
    _proposed(site, theirs[0]["id"], name="Kim Park")

    browser = site.signed_in("ana@clinic.example")
    page = browser.text("/my/invitations")
    assert "Sam Moreno" in page and "guest of Alex Moreno" in page
    assert "Tuesday 9 March 2027, 18:00–19:30 EST" in page
    assert "Kim Park" not in page  # t-zed's group

    r = browser.submit("/my/invitations", to=f"/my/invitations/{iid}/approve")
    assert r.status_code == 302
    after = browser.text("/my/invitations")
    assert "You approved Sam Moreno’s invitation." in after
    assert "No invitation is waiting for your approval." in after
    shown = site.api.get(f"/invitations/{iid}").get_json()
    assert shown["status"] == "approved"
    history = site.api.get(f"/invitations/{iid}/history").get_json()["items"]
    assert history[-1]["actor"] == ana.actor

    # Approving again (a page left open) is refused in words, at the top.
    r = browser.submit("/my/invitations", to=f"/my/invitations/{iid}/approve")
    assert r.status_code == 409
    assert 'class="problem"' in r.get_data(as_text=True)

    zed = site.signed_in("zed@clinic.example")
    assert "Kim Park" in zed.text("/my/invitations")
    r = zed.submit("/my/invitations", to=f"/my/invitations/{iid}/approve")
    assert r.status_code == 404  # not a group they facilitate: as if it did not exist
