"""Pages under the Flask test client: a signed-in person per role, forms sent with their token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from projections.store import StoreSettings
from service.staff import StaffAccounts, StaffUser
from tests.conftest import Clock
from tests.service.conftest import Api, make_api

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(response: TestResponse) -> str:
    found = _CSRF.search(response.get_data(as_text=True))
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Browser:
    """One person's cookie jar: open a page, then send one of its forms."""

    client: FlaskClient

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.client.get(path, **kw)

    def submit(self, page: str, to: str | None = None, **fields: Any) -> TestResponse:
        """Open ``page``, take its CSRF token, post ``fields`` to ``to`` (default: page)."""
        token = csrf_of(self.get(page))
        return self.client.post(to or page, data={"csrf_token": token, **fields})

    def sign_in(self, email: str, password: str = PASSWORD) -> TestResponse:
        return self.submit("/", email=email, password=password)

    def text(self, path: str) -> str:
        r = self.get(path)
        assert r.status_code == 200, (r.status_code, r.get_data(as_text=True)[:500])
        return r.get_data(as_text=True)


@dataclass
class Site:
    api: Api

    @property
    def accounts(self) -> StaffAccounts:
        found: StaffAccounts = self.api.app.extensions["circles"].storage.staff
        return found

    @property
    def clock(self) -> Clock:
        return self.api.clock

    def user(self, email: str, role: str, therapist_id: str | None = None, **kw: Any) -> StaffUser:
        name = kw.pop("name", email.split("@")[0].title())
        return self.accounts.create(
            email, name, role, PASSWORD, self.clock(), therapist_id=therapist_id, **kw
        )

    def browser(self) -> Browser:
        return Browser(self.api.app.test_client())

    def signed_in(self, email: str) -> Browser:
        browser = self.browser()
        r = browser.sign_in(email)
        assert r.status_code == 302, r.get_data(as_text=True)[:500]
        return browser


@pytest.fixture
def site(durable_store: StoreSettings, clock: Clock) -> Iterator[Site]:
    for api in make_api(durable_store, clock):
        yield Site(api)
