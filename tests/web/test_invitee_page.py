"""The invitee's page: ``/i/{token}`` in a browser, the JSON unchanged for JSON clients,
answers by form guarded against cross-site posts, and a plain word when it is over."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from werkzeug.test import TestResponse

from service.logmask import mask
from tests.feeds.test_feeds import OTHERS, PATIENT, PATIENT_NAME, clinic, path_of, sent_invitation
from tests.service.conftest import Api, problem
from tests.web.conftest import Site

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FORM = re.compile(r'name="form_token" value="([0-9a-f]{64})"')
SAME = {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}


def _open(api: Api, path: str) -> TestResponse:
    return api.get(path, role=None, headers={"Accept": BROWSER})


def _invited(site: Site) -> tuple[dict[str, Any], str, str]:
    world = clinic(site.api)
    iid, url = sent_invitation(site.api, world)
    return world, iid, path_of(url)


def _answer(api: Api, path: str, answer: str, **headers: str) -> TestResponse:
    found = FORM.search(_open(api, path).get_data(as_text=True))
    assert found, "the page has no answer form"
    data = {"form_token": found.group(1), "answer": answer}
    return api.post(path, role=None, data=data, headers={**SAME, **headers})


def _old_browser(api: Api, path: str, **headers: str) -> TestResponse:
    """An answer from a browser that sends no Sec-Fetch-Site."""
    found = FORM.search(_open(api, path).get_data(as_text=True))
    assert found
    data = {"form_token": found.group(1), "answer": "accept"}
    return api.post(path, role=None, data=data, headers=headers)


def _status(api: Api, path: str) -> str:
    found: str = api.get(path, role=None).get_json()["status"]
    return found


def test_a_browser_gets_the_page_a_json_client_the_same_json_as_before(site: Site) -> None:
    api = site.api
    _, _, path = _invited(site)
    plain = api.get(path, role=None)
    assert plain.mimetype == "application/json"
    for accept in ("*/*", "application/json", "application/json, text/html;q=0.5"):
        r = api.get(path, role=None, headers={"Accept": accept})
        assert r.mimetype == "application/json" and r.get_json() == plain.get_json()
    assert plain.headers["Cache-Control"] == "private, no-store"
    assert plain.headers["Vary"] == "Accept"

    page = _open(api, path)
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    # Session 4 of the New York group: 23 March 2027, 18:00 local (EDT since 14 March).
    for shown in ("Tuesday 23 March 2027", "18:00–19:30 EDT", "room-1", "Group session"):
        assert shown in text
    assert "Accept the invitation" in text and "Decline the invitation" in text
    assert "Add to calendar" not in text  # not before accepting
    for absent in (PATIENT, PATIENT_NAME, "Tuesday evening", "ipt", "grief", "Sam Partner",
                   *OTHERS.values()):  # fmt: skip
        assert absent.lower() not in text.lower()
    headers = page.headers
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["Vary"] == "Accept"
    assert "form-action 'self'" in headers["Content-Security-Policy"]
    assert "style-src 'self';" in headers["Content-Security-Policy"]  # no inline styles
    assert not re.search(r'(src|href)="https?://', text.replace('href="https://video', ""))
    assert "Set-Cookie" not in headers
    assert mask(f"GET {path} HTTP/1.1").endswith("/i/*** HTTP/1.1")


def test_accept_by_form_then_add_to_calendar(site: Site) -> None:
    api = site.api
    _, iid, path = _invited(site)
    r = _answer(api, path, "accept")
    assert r.status_code == 303 and r.headers["Location"].endswith(path)
    assert r.headers["Cache-Control"] == "no-store"
    assert _status(api, path) == "accepted"
    history = api.get(f"/invitations/{iid}/history").get_json()["items"]
    assert history[-1]["type"] == "Invitation.Accepted"
    text = _open(api, path).get_data(as_text=True)
    assert "You accepted this invitation." in text
    assert "Accept the invitation" not in text and "Decline the invitation" not in text
    assert f'href="{path}.ics"' in text and f'href="webcal://localhost{path}.ics"' in text
    ics = api.get(path + ".ics", role=None)
    assert ics.status_code == 200 and "STATUS:CONFIRMED" in ics.get_data(as_text=True)


def test_decline_by_form(site: Site) -> None:
    api = site.api
    _, _, path = _invited(site)
    assert _answer(api, path, "decline").status_code == 303
    assert _status(api, path) == "declined"
    text = _open(api, path).get_data(as_text=True)
    assert "You declined this invitation." in text and "Add to calendar" not in text


def test_cross_site_and_forged_answers_are_refused_and_change_nothing(site: Site) -> None:
    api = site.api
    _, _, path = _invited(site)
    refused = [
        _answer(api, path, "accept", **{"Sec-Fetch-Site": "cross-site"}),
        _answer(api, path, "accept", **{"Sec-Fetch-Site": "same-site"}),
        _answer(api, path, "accept", **{"Sec-Fetch-Site": "cross-site", "Origin": "null"}),
        _answer(api, path, "accept", **{"Sec-Fetch-Site": "", "Origin": "http://localhost"}),
        _old_browser(api, path, Origin="https://evil.example"),
        _old_browser(api, path, Origin="http://localhost.evil.example"),
        api.post(path, role=None, data={"form_token": "0" * 64, "answer": "accept"}),
        api.post(path, role=None, data={"answer": "accept"}),
    ]
    for r in refused:
        assert r.status_code == 403 and r.mimetype == "text/html"
        assert "was not sent from the invitation" in r.get_data(as_text=True)
    no_choice = _answer(api, path, "maybe")
    assert no_choice.status_code == 422 and "Choose an answer" in no_choice.get_data(as_text=True)
    assert _status(api, path) == "sent"
    # An older browser (no Sec-Fetch-Site) sends Origin: null under no-referrer: the form's
    # own value decides.
    r = _old_browser(api, path, Origin="null")
    assert r.status_code == 303 and _status(api, path) == "accepted"


def test_revoked_and_cancelled_invitations_say_so(site: Site) -> None:
    api = site.api
    world, iid, path = _invited(site)
    stale = FORM.search(_open(api, path).get_data(as_text=True))
    assert stale
    r = api.post(f"/invitations/{iid}/revoke", json={"reason": "patient withdrew consent"})
    assert r.status_code == 200, r.get_json()
    text = _open(api, path).get_data(as_text=True)
    assert "This invitation was withdrawn." in text and "Accept the invitation" not in text
    assert "Add to calendar" not in text
    # A form from before the revocation: refused as JSON refuses it, the page says why.
    late = api.post(path, role=None, headers=SAME,
                    data={"form_token": stale.group(1), "answer": "accept"})  # fmt: skip
    assert late.status_code == 409 and "This invitation was withdrawn." in late.get_data(
        as_text=True
    )
    assert _status(api, path) == "revoked"
    # Once the session is over the address answers a plain 404 page.
    api.clock.set(datetime(2027, 3, 23, 23, 31, tzinfo=UTC))
    gone = _open(api, path)
    assert gone.status_code == 404 and "Link not found" in gone.get_data(as_text=True)

    # Another invitation whose session the clinic cancels.
    api.clock.set(datetime(2027, 1, 1, 12, 0, tzinfo=UTC))
    sid = world["ny_sessions"][5]["id"]
    proposed = api.post(f"/sessions/{sid}/invitations", json={
        "patient_id": PATIENT, "invitee_name": "Kim Parent", "relationship": "parent"})  # fmt: skip
    other = proposed.get_json()["id"]
    assert api.post(f"/invitations/{other}/approve", role="therapist").status_code == 200
    consent = {"signed_by": "Pat", "signed_at": "2027-01-01T10:00:00+00:00", "document_ref": "d"}
    assert api.post(f"/invitations/{other}/consent", json=consent).status_code == 200
    other_path = path_of(api.post(f"/invitations/{other}/send").get_json()["url"])
    cancelled = api.post(f"/sessions/{sid}/cancel", json={"reason": "Therapist ill"})
    assert cancelled.status_code == 200, cancelled.get_json()
    text = _open(api, other_path).get_data(as_text=True)
    assert "This session was cancelled." in text and "Accept the invitation" not in text


def test_unknown_links_answer_a_plain_404_page(site: Site) -> None:
    api = site.api
    _invited(site)
    token = "B" * 43
    page = _open(api, f"/i/{token}")
    assert page.status_code == 404 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "Link not found" in text and "Nothing is at this address." in text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    posted = api.post(f"/i/{token}", role=None, headers=SAME, data={"answer": "accept"})
    assert posted.status_code == 404 and "Link not found" in posted.get_data(as_text=True)
    problem(api.get(f"/i/{token}", role=None), 404)  # JSON clients: problem+json as before
    # A patient's feed token opens no invitation.
    patient = api.post(f"/patients/{PATIENT}/feed-tokens").get_json()["token"]
    assert _open(api, f"/i/{patient}").status_code == 404
