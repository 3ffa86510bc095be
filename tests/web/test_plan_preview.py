"""Planning sessions from a page: the preview is the domain's dry run, Save the JSON command."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.web.conftest import Browser, Site

DANA = "dana@clinic.example"
PLAN = {
    "first_date": "2027-03-02", "start_time": "18:00", "duration_minutes": "90",
    "cadence": "weekly", "interval": "", "count": "12", "skip_dates": "2027-03-23, 2027-03-25",
    "kind": "",
}  # fmt: skip


def _dana(site: Site) -> Browser:
    site.clock.set(datetime(2027, 2, 1, 12, 0, tzinfo=UTC))
    site.user(DANA, "coordinator", name="Dana Reyes")
    return site.signed_in(DANA)


def _preview(browser: Browser, url: str, **fields: str) -> str:
    r = browser.submit(url, **{**PLAN, **fields, "action": "preview"})
    assert r.status_code == 200, r.get_data(as_text=True)[:3000]
    return r.get_data(as_text=True)


def test_preview_marks_the_clock_change_and_the_closure_push_then_saves(site: Site) -> None:
    browser = _dana(site)
    group = site.api.group(name="Spring IPT", opened=False)
    url = f"/web/groups/{group['id']}/plan"
    assert f'href="{url}"' in browser.text(f"/web/groups/{group['id']}")
    page = _preview(browser, url)
    assert "Preview: 12 sessions, nothing saved yet" in page
    assert "Tue 2 Mar 2027" in page and "18:00–19:30 EST" in page
    # America/New_York changes clocks on 14 March: session 3 (16 March) is marked, same 18:00.
    assert "Clocks changed: EST → EDT" in page and "18:00–19:30 EDT" in page
    assert "The clocks change before session 3 (EST → EDT); it still starts at 18:00" in page
    # 23 March is a session date: the course is pushed a week; 25 March changes nothing.
    assert "Pushed past closure Tue 23 Mar" in page and "Tue 30 Mar 2027" in page
    assert "Closures that pushed the course: Tue 23 Mar 2027." in page
    assert "fall on no session date (they change nothing): Thu 25 Mar 2027" in page
    assert "Tue 25 May 2027" in page  # still 12 sessions, the last a week later
    assert site.api.get(f"/groups/{group['id']}/sessions").get_json()["items"] == []
    # The JSON clients' preview says the same.
    body = {
        "first_date": "2027-03-02",
        "start_time": "18:00",
        "duration_minutes": 90,
        "cadence": "weekly",
        "count": 12,
        "skip_dates": ["2027-03-23", "2027-03-25"],
    }
    r = site.api.post(f"/groups/{group['id']}/sessions/preview", json=body)
    assert r.status_code == 200, r.get_json()
    json_preview = r.get_json()
    assert [s["clock_change"] for s in json_preview["sessions"]].index(True) == 2
    assert json_preview["sessions"][3]["pushed_past"] == ["2027-03-23"]
    # Save: the button carries the previewed plan; POST /groups/{id}/sessions runs.
    previewed = re.search(r'name="previewed" value="([0-9a-f]+)"', page)
    version = re.search(r'name="version" value="(\d+)"', page)
    assert previewed and version and "Save these 12 sessions" in page
    r = browser.submit(url, **PLAN, action="save", previewed=previewed.group(1),
                       version=version.group(1))  # fmt: skip
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    shown = browser.text(f"/web/groups/{group['id']}")
    assert "12 sessions planned, from Tue 2 Mar 2027 to Tue 25 May 2027." in shown
    saved = site.api.get(f"/groups/{group['id']}/sessions").get_json()["items"]
    assert [s["starts_at"] for s in saved] == [s["starts_at"] for s in json_preview["sessions"]]
    history = site.api.get(f"/groups/{group['id']}/history").get_json()["items"]
    assert history[-1]["actor"] == "Dana Reyes <coordinator dana@clinic.example>"


def test_a_plan_changed_after_its_preview_is_previewed_again_not_saved(site: Site) -> None:
    browser = _dana(site)
    group = site.api.group(name="Spring IPT", opened=False)
    url = f"/web/groups/{group['id']}/plan"
    page = _preview(browser, url)
    previewed = re.search(r'name="previewed" value="([0-9a-f]+)"', page)
    assert previewed
    r = browser.submit(url, **{**PLAN, "start_time": "17:00"}, action="save",
                       previewed=previewed.group(1), version=str(group["version"]))  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "The plan changed since its preview" in text
    assert "17:00–18:30 EST" in text
    assert site.api.get(f"/groups/{group['id']}/sessions").get_json()["items"] == []


def test_collisions_are_named_and_linked_and_save_is_not_offered(site: Site) -> None:
    browser = _dana(site)
    first = site.api.group(name="Tuesday evening IPT")
    taken = site.api.plan(first["id"], first_date="2027-03-02", count=12)
    other = site.api.group(name="Late IPT", room_id="room-9", opened=False)  # same therapist
    url = f"/web/groups/{other['id']}/plan"
    page = _preview(browser, url, first_date="2027-05-04", start_time="19:00", skip_dates="")
    assert "Double booking: 3 collisions" in page
    for number, session in ((10, taken[9]), (11, taken[10]), (12, taken[11])):
        link = f'<a href="/web/sessions/{session["id"]}">session #{number} of '
        assert link + "Tuesday evening IPT</a>" in page
    assert "Therapist t-ana is booked then" in page
    assert "Save these" not in page
    # Saving anyway (a stale page): the JSON route's 409, its words, and a link.
    previewed = re.search(r'name="previewed" value="([0-9a-f]+)"', page)
    assert previewed
    r = browser.submit(url, **{**PLAN, "first_date": "2027-05-04", "start_time": "19:00",
                               "skip_dates": ""}, action="save", previewed=previewed.group(1),
                       version=str(other["version"]))  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 409 and "Double booking" in text
    assert "Therapist t-ana is already booked for session #10" in text
    assert f'href="/web/sessions/{taken[9]["id"]}">See the colliding session' in text
    assert 'value="19:00"' in text  # nothing typed lost
    assert site.api.get(f"/groups/{other['id']}/sessions").get_json()["items"] == []


def test_refusals_beside_their_fields_nothing_lost(site: Site) -> None:
    browser = _dana(site)
    group = site.api.group(name="Spring IPT", opened=False)
    url = f"/web/groups/{group['id']}/plan"
    r = browser.submit(url, **{**PLAN, "count": "lots", "skip_dates": "someday"},
                       action="preview")  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'id="plan-count-error"' in text and 'id="plan-skip_dates-error"' in text
    assert 'value="lots"' in text and 'value="someday"' in text
    assert "Correct the marked fields: How many sessions, Clinic closures." in text
    # A domain rule: 02:30 does not exist on the night the clocks go forward.
    r = browser.submit(url, **{**PLAN, "first_date": "2027-03-14", "start_time": "02:30"},
                       action="preview")  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="plan-start_time-error"' in text
    assert "the clocks go forward that night" in text
    # The course-length rule is shown with the preview, and Save is not offered.
    page = _preview(browser, url, count="20")
    assert "Course length" in page and "12–16" in page and "Save these" not in page
    # Without the CSRF token nothing is previewed or saved.
    r = browser.client.post(url, data={**PLAN, "action": "save"})
    assert r.status_code == 400


def test_a_group_changed_since_the_preview_is_not_planned_over(site: Site) -> None:
    browser = _dana(site)
    group = site.api.group(name="Spring IPT", opened=False)
    url = f"/web/groups/{group['id']}/plan"
    page = _preview(browser, url, count="6")
    previewed = re.search(r'name="previewed" value="([0-9a-f]+)"', page)
    version = re.search(r'name="version" value="(\d+)"', page)
    assert previewed and version
    site.api.plan(group["id"], first_date="2027-09-07", count=6)  # someone else, meanwhile
    r = browser.submit(url, **{**PLAN, "count": "6"}, action="save",
                       previewed=previewed.group(1), version=version.group(1))  # fmt: skip
    text = r.get_data(as_text=True)
    assert r.status_code == 412 and "Changed since you read it" in text
    assert 'value="2027-03-02"' in text and 'value="6"' in text
    assert "6 sessions planned already" in text
    fresh = re.search(r'name="version" value="(\d+)"', text)
    assert fresh and fresh.group(1) != version.group(1)
    assert len(site.api.get(f"/groups/{group['id']}/sessions").get_json()["items"]) == 6
