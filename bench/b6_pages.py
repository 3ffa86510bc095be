"""B6: a page's server time vs the JSON GET that carries the same data (issue 13's bar: 1.5×).

On the demo clinic (``service.demo``) in a fresh SQLite store, through the Flask WSGI app
in-process (the werkzeug test client, no sockets), for the demo therapist:

- ``GET /my/week`` vs ``GET /therapists/t-ana/sessions?start=…&end=…`` (the same week);
- ``GET /my/sessions/{id}/attendance`` vs ``GET /sessions/{id}/roster`` (the same session);
- for the demo coordinator, against the JSON GETs a client needs for the same data:
  ``GET /web/week`` vs ``GET /sessions?start=…&end=…``, the open and running groups and each
  one's ``/reports/attendance``; ``GET /web/groups`` vs ``GET /groups?limit=25``; and
  ``GET /web/groups/{id}`` vs ``GET /groups/{id}`` and its ``/enrollments``, ``/sessions``
  and ``/history``; ``GET /web/enrollments/{id}`` vs ``GET /enrollments/{id}`` and its
  group; the plan page's preview (``POST /web/groups/{id}/plan``) vs
  ``POST /groups/{id}/sessions/preview`` with the same plan;
  ``GET /web/sessions/{id}`` vs ``GET /sessions/{id}``, its group, its
  ``/roster``, the group's ``/reports/attendance`` and ``/sessions``, the session's
  ``/history`` and each invitation holding a place;
  ``GET /web/calendar`` (this
  week, by room) vs ``GET /sessions?start=…&end=…`` and ``GET /groups?limit=200`` (the group
  names), the same week — and against ``GET /sessions?start=…&end=…`` alone
  (``calendar/sessions``);
- for a billing account, over the last 60 days: ``GET /web/billing/costs`` vs
  ``GET /reports/costs``; ``GET /web/billing/claims.csv`` vs ``GET /reports/claims?format=csv``;
  ``GET /web/billing/statements`` vs ``GET /reports/claims`` and each patient's
  ``/patients/{id}/statement``; ``GET /web/billing/month-close`` vs
  ``GET /reports/month-close``.

Each pair is timed alternately, ``--n`` requests per side per round; the median of the
rounds' ratios (page time / JSON time) is printed. With ``--interleave`` the two sides
alternate request by request instead and each round takes each side's median request time:
on a machine shared with other work, load that comes and goes then falls on both sides
alike, and a stall of another process does not count as a request's time. Run:
``.venv/bin/python -m bench.b6_pages [--n 200] [--rounds 3] [--interleave] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher

from projections.store import StoreSettings
from service import create_app
from service.demo import TZ, load_demo

PASSWORD = "bench password 123"


def _interleaved(
    as_page: Callable[[], Any], as_json: Callable[[], Any], n: int
) -> tuple[float, float]:
    """Each side's median request time over ``n`` requests each, alternating page and JSON."""
    page_times: list[float] = []
    json_times: list[float] = []
    for _ in range(n):
        for call, times in ((as_json, json_times), (as_page, page_times)):
            start = time.perf_counter()
            response = call()
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, response.status_code
    return statistics.median(page_times), statistics.median(json_times)


def _timed(call: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        response = call()
        assert response.status_code == 200, response.status_code
    return (time.perf_counter() - start) / n


def _signed_in(app: Any, email: str) -> Any:
    client = app.test_client()
    form = client.get("/").get_data(as_text=True)
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/", data={"csrf_token": token, "email": email, "password": PASSWORD})
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="measure only these pairs, e.g. 'week calendar'")
    parser.add_argument(
        "--interleave", action="store_true",
        help="alternate request by request; each side's median request time per round",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as where:
        store = StoreSettings("sqlite", sqlite_path=Path(where) / "bench.sqlite3")
        app = create_app(
            {"STORE": store, "TESTING": True, "CLINIC_TIMEZONE": TZ,
             "PASSWORD_HASHER": PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)}
        )  # fmt: skip
        services = app.extensions["circles"]
        try:
            load_demo(services.circles)
            key, _ = services.storage.create_key("therapist", "bench", "t-ana")
            services.storage.staff.create(
                "ana@bench.example", "Ana", "therapist", PASSWORD, services.clock(), "t-ana"
            )
            coord_key, _ = services.storage.create_key("coordinator", "bench", None)
            services.storage.staff.create(
                "dana@bench.example", "Dana", "coordinator", PASSWORD, services.clock()
            )
            page, coord = (
                _signed_in(app, "ana@bench.example"),
                _signed_in(app, "dana@bench.example"),
            )
            api = app.test_client()
            auth = {"Authorization": f"Bearer {key}"}
            coord_auth = {"Authorization": f"Bearer {coord_key}"}
            zone = ZoneInfo(TZ)
            today = services.clock().astimezone(zone).date()
            monday = today - timedelta(days=today.weekday())
            start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
            end = start + timedelta(days=7)
            week_json = (
                f"/therapists/t-ana/sessions?start={start.isoformat()}&end={end.isoformat()}"
                "&limit=200"
            ).replace("+", "%2B")
            sessions = api.get(week_json, headers=auth).get_json()["items"]
            session_id = sessions[0]["id"] if "id" in sessions[0] else sessions[0]["session_id"]
            pairs = {
                "my week": (lambda: page.get("/my/week"),
                            lambda: api.get(week_json, headers=auth)),
                "attendance sheet": (
                    lambda: page.get(f"/my/sessions/{session_id}/attendance"),
                    lambda: api.get(f"/sessions/{session_id}/roster", headers=auth),
                ),
            }  # fmt: skip
            all_week = week_json.replace("/therapists/t-ana/sessions", "/sessions")
            groups = api.get("/groups?limit=200", headers=coord_auth).get_json()["items"]
            active = [g["id"] for g in groups if g["status"] in ("open", "running")]
            group_id = groups[0]["id"]

            def gets(*paths: str) -> Callable[[], Any]:
                """The JSON GETs a client needs for the same data, one after another."""

                def run() -> Any:
                    for path in paths:
                        response = api.get(path, headers=coord_auth)
                        assert response.status_code == 200, (path, response.status_code)
                    return response

                return run

            pairs |= {
                "coordinator week": (
                    lambda: coord.get("/web/week"),
                    gets(all_week, "/groups?status=open&limit=200",
                         "/groups?status=running&limit=200",
                         *(f"/reports/attendance?group_id={g}" for g in active)),
                ),
                "groups list": (lambda: coord.get("/web/groups"),
                                gets("/groups?limit=25")),
                "group page": (
                    lambda: coord.get(f"/web/groups/{group_id}"),
                    gets(f"/groups/{group_id}", f"/groups/{group_id}/enrollments?limit=200",
                         f"/groups/{group_id}/sessions?limit=200",
                         f"/groups/{group_id}/history?limit=200"),
                ),
                "week calendar": (lambda: coord.get("/web/calendar?by=room"),
                                  gets(all_week, "/groups?limit=200")),
                "calendar/sessions": (lambda: coord.get("/web/calendar?by=room"), gets(all_week)),
            }  # fmt: skip
            enrollment = api.get(
                f"/groups/{group_id}/enrollments?limit=1", headers=coord_auth
            ).get_json()["items"][0]
            form = coord.get(f"/web/groups/{group_id}/plan").get_data(as_text=True)
            csrf = form.split('name="csrf_token" value="')[1].split('"')[0]
            plan = {
                "first_date": "2031-01-07",
                "start_time": "09:00",
                "duration_minutes": 90,
                "cadence": "weekly",
                "count": 12,
            }
            pairs |= {
                "enrollment page": (
                    lambda: coord.get(f"/web/enrollments/{enrollment['id']}"),
                    gets(f"/enrollments/{enrollment['id']}", f"/groups/{group_id}"),
                ),
                "plan preview": (
                    lambda: coord.post(f"/web/groups/{group_id}/plan", data={
                        **{k: str(v) for k, v in plan.items()}, "csrf_token": csrf,
                        "action": "preview"}),
                    lambda: api.post(f"/groups/{group_id}/sessions/preview", json=plan,
                                     headers=coord_auth),
                ),
            }  # fmt: skip
            # A session with a guest invited, if the demo has one: the page lists invitations.
            week = api.get(all_week, headers=coord_auth).get_json()["items"]
            details = [
                api.get(f"/sessions/{s.get('id') or s['session_id']}", headers=coord_auth)
                .get_json() for s in week
            ]  # fmt: skip
            chosen = next((d for d in details if d["invitation_ids"]), details[0])
            one, its_group = chosen["id"], chosen["group_id"]
            shown = api.get(f"/sessions/{one}", headers=coord_auth).get_json()
            pairs["session page"] = (
                lambda: coord.get(f"/web/sessions/{one}"),
                gets(f"/sessions/{one}", f"/groups/{its_group}", f"/sessions/{one}/roster",
                     f"/reports/attendance?group_id={its_group}",
                     f"/groups/{its_group}/sessions?limit=200",
                     f"/sessions/{one}/history?limit=200",
                     *(f"/invitations/{i}" for i in shown["invitation_ids"])),
            )  # fmt: skip
            bill_key, _ = services.storage.create_key("billing", "bench", None)
            services.storage.staff.create(
                "bo@bench.example", "Bo", "billing", PASSWORD, services.clock()
            )
            bill, bill_auth = (
                _signed_in(app, "bo@bench.example"),
                {"Authorization": f"Bearer {bill_key}"},
            )
            period = f"from={today - timedelta(days=60)}&to={today}"

            def bill_gets(*paths: str) -> Callable[[], Any]:
                def run() -> Any:
                    for path in paths:
                        response = api.get(path, headers=bill_auth)
                        assert response.status_code == 200, (path, response.status_code)
                    return response

                return run

            claimed = api.get(f"/reports/claims?{period}", headers=bill_auth).get_json()
            patients = sorted({line["patient_id"] for line in claimed["lines"]})
            pairs |= {
                "billing costs": (lambda: bill.get(f"/web/billing/costs?{period}"),
                                  bill_gets(f"/reports/costs?{period}")),
                "billing claim csv": (lambda: bill.get(f"/web/billing/claims.csv?{period}"),
                                      bill_gets(f"/reports/claims?{period}&format=csv")),
                "billing statements": (
                    lambda: bill.get(f"/web/billing/statements?{period}"),
                    bill_gets(f"/reports/claims?{period}",
                              *(f"/patients/{p}/statement?{period}" for p in patients)),
                ),
                "billing month close": (lambda: bill.get(f"/web/billing/month-close?{period}"),
                                        bill_gets(f"/reports/month-close?{period}")),
            }  # fmt: skip
            print(f"  (billing: {len(claimed['lines'])} charge lines, {len(patients)} patients)")
            print(
                f"B6 pages vs JSON, demo clinic on SQLite, n={args.n}, rounds={args.rounds}"
                + (", interleaved" if args.interleave else "")
            )
            print(
                f"  (session page: session {chosen['number']}, "
                f"{len(chosen['invitation_ids'])} invitation(s) holding a place)"
            )
            for name, (as_page, as_json) in pairs.items():
                if args.only and name not in args.only:
                    continue
                _timed(as_page, 5), _timed(as_json, 5)  # warm caches alike
                ratios, page_times, json_times = [], [], []
                for _ in range(args.rounds):
                    if args.interleave:
                        page_time, json_time = _interleaved(as_page, as_json, args.n)
                    else:
                        json_time = _timed(as_json, args.n)
                        page_time = _timed(as_page, args.n)
                    ratios.append(page_time / json_time)
                    page_times.append(page_time)
                    json_times.append(json_time)
                ratio = statistics.median(ratios)
                print(
                    f"  {name:<19} page {statistics.median(page_times) * 1000:6.2f} ms  "
                    f"JSON {statistics.median(json_times) * 1000:6.2f} ms  "
                    f"ratio {ratio:4.2f} (rounds {min(ratios):4.2f}–{max(ratios):4.2f})  "
                    f"({'meets' if ratio <= 1.5 else 'MISSES'} the 1.5× bar)"
                )
        finally:
            services.close()


if __name__ == "__main__":
    main()
