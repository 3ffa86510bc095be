"""The administrator's staff page: create, disable, enable and reset accounts."""

from __future__ import annotations

import re

from tests.web.conftest import PASSWORD, Site


def _one_time_password(html: str) -> str:
    found = re.search(r'id="one-time-password">([^<]+)<', html)
    assert found, html
    return found.group(1)


def test_admin_creates_disables_enables_and_resets(site: Site) -> None:
    site.user("root@clinic.example", "admin")
    admin = site.signed_in("root@clinic.example")
    assert admin.get("/home").status_code == 200

    r = admin.submit("/admin/staff", email="ana@clinic.example", name="Ana Silva",
                     role="therapist", therapist_id="t-ana")  # fmt: skip
    assert r.status_code == 200
    first = _one_time_password(r.get_data(as_text=True))
    ana = site.browser()
    assert ana.sign_in("ana@clinic.example", first).status_code == 302
    assert ana.get("/my/week").headers["Location"] == "/account"  # must choose a password
    r = ana.submit("/account", current_password=first, new_password=PASSWORD,
                   new_password_again=PASSWORD)  # fmt: skip
    assert r.status_code == 302
    assert ana.get("/my/week").status_code == 200

    user = site.accounts.by_email("ana@clinic.example")
    assert user is not None
    r = admin.submit("/admin/staff", f"/admin/staff/{user.id}/disable")
    assert r.status_code == 302
    assert "is disabled and signed out everywhere" in admin.text("/admin/staff")
    assert ana.get("/my/week").status_code == 302  # signed out at once
    assert site.browser().sign_in("ana@clinic.example").status_code == 401

    admin.submit("/admin/staff", f"/admin/staff/{user.id}/enable")
    assert site.browser().sign_in("ana@clinic.example").status_code == 302

    r = admin.submit("/admin/staff", f"/admin/staff/{user.id}/reset")
    second = _one_time_password(r.get_data(as_text=True))
    assert site.browser().sign_in("ana@clinic.example").status_code == 401  # old one gone
    fresh = site.browser()
    assert fresh.sign_in("ana@clinic.example", second).status_code == 302
    assert fresh.get("/my/week").headers["Location"] == "/account"


def test_admin_form_errors_keep_what_was_typed(site: Site) -> None:
    site.user("root@clinic.example", "admin")
    site.user("taken@clinic.example", "billing")
    admin = site.signed_in("root@clinic.example")
    r = admin.submit("/admin/staff", email="new@clinic.example", name="Noor Haddad",
                     role="therapist", therapist_id="")  # fmt: skip
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "needs the clinic&#39;s therapist id" in page
    assert 'value="new@clinic.example"' in page and 'value="Noor Haddad"' in page
    assert 'value="therapist" checked' in page
    r = admin.submit("/admin/staff", email="taken@clinic.example", name="X", role="billing")
    assert r.status_code == 422 and "already an account" in r.get_data(as_text=True)
    me = site.accounts.by_email("root@clinic.example")
    assert me is not None
    r = admin.submit("/admin/staff", f"/admin/staff/{me.id}/disable")
    assert r.status_code == 409 and me.is_active
    r = admin.submit("/admin/staff", "/admin/staff/no-such-id/reset")
    assert r.status_code == 404


def test_only_an_admin_sees_the_staff_page(site: Site) -> None:
    site.user("dana@clinic.example", "coordinator")
    browser = site.signed_in("dana@clinic.example")
    r = browser.get("/admin/staff")
    assert r.status_code == 403 and "for admin accounts" in r.get_data(as_text=True)
    assert site.browser().get("/admin/staff").headers["Location"].startswith("/?next=")
