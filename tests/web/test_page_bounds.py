"""Issue 9 on the pages: odd input in a form or a query string is a 4xx or a page that says
what it did, never a 500, and the pages keep working after it (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.web.conftest import Site

DANA = "dana@clinic.example"
ANA = "ana@clinic.example"


@pytest.mark.parametrize(
    "email",
    ["dana\x00@clinic.example", "\x00", "dana@clinic.example\x00", "da\x1bna@clinic.example"],
)
def test_a_control_character_in_the_sign_in_email_is_refused(site: Site, email: str) -> None:
    site.user(DANA, "coordinator")
    browser = site.browser()
    r = browser.sign_in(email)
    assert r.status_code == 400, r.get_data(as_text=True)[:300]
    assert "email address" in r.get_data(as_text=True)
    assert browser.sign_in(DANA).status_code == 302  # sign-in still works afterwards


@pytest.mark.parametrize(
    "week", ["9999-12-31", "9999-12-27", "0001-01-01", "0001-01-07", "1999-12-31", "2100-01-01"]
)
@pytest.mark.parametrize(
    ("email", "role", "therapist_id", "path"),
    [(DANA, "coordinator", None, "/web/week"), (ANA, "therapist", "t-ana", "/my/week")],
)
def test_a_week_outside_the_bounds_shows_this_week_and_says_so(
    site: Site, week: str, email: str, role: str, therapist_id: str | None, path: str
) -> None:
    group = site.api.group(facilitator_ids=["t-ana"])
    site.api.plan(group["id"], first_date="2027-01-05", count=12)
    site.user(email, role, therapist_id)
    browser = site.signed_in(email)
    r = browser.get(f"{path}?week={week}")
    text = r.get_data(as_text=True)
    assert r.status_code == 200, text[:300]
    assert "showing this week" in text
    # This week (4 January 2027 on the test clock) is what is shown; later weeks still work.
    assert browser.get(f"{path}?week=2027-01-11").status_code == 200


def test_an_account_name_or_therapist_id_with_control_characters_is_refused(
    site: Site,
) -> None:
    from service.staff import StaffUserError

    for name, therapist_id in (("Ana\x00", "t-ana"), ("Ana", "t-\x00ana"), ("A\x85na", "t-a")):
        with pytest.raises(StaffUserError):
            site.user("ana2@clinic.example", "therapist", therapist_id, name=name)
    site.user(DANA, "coordinator")
    assert site.signed_in(DANA).get("/web/week").status_code == 200
