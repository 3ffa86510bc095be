"""B7: the private-link pages' server time vs their machine-readable twin (issue 14: 1.5×).

On the demo clinic (``service.demo``) in a fresh SQLite store, through the Flask WSGI app
in-process (the werkzeug test client, no sockets):

- ``GET /i/{token}`` with a browser's ``Accept`` (the invitee's page) vs the same address
  as JSON, for an invitation just sent and for one accepted;
- ``GET /feeds/{token}`` (the patient's link page) vs ``GET /feeds/{token}.ics`` (the feed
  itself, served from its body cache, as a calendar client polls it).

Each pair is timed alternately, ``--n`` requests per side per round; the median of the
rounds' ratios (page time / JSON or feed time) is printed. Run:
``.venv/bin/python -m bench.b7_token_pages [--n 300] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.b6_pages import _timed
from projections.store import StoreSettings
from service import create_app
from service.demo import PATIENTS, TZ, load_demo

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _invitation(api: Any, coord: dict[str, str], ana: dict[str, str], session: str,
                patient: str) -> str:  # fmt: skip
    """Invite ``patient``'s significant other to ``session`` up to the link; its path."""
    body = {"patient_id": patient, "invitee_name": "Bench Guest", "relationship": "sibling"}
    iid = api.post(f"/sessions/{session}/invitations", json=body, headers=coord).get_json()["id"]
    assert api.post(f"/invitations/{iid}/approve", headers=ana).status_code == 200
    consent = {"signed_by": "Bench", "signed_at": "2020-01-01T10:00:00+00:00", "document_ref": "b"}
    assert api.post(f"/invitations/{iid}/consent", json=consent, headers=coord).status_code == 200
    url: str = api.post(f"/invitations/{iid}/send", headers=coord).get_json()["url"]
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as where:
        store = StoreSettings("sqlite", sqlite_path=Path(where) / "bench.sqlite3")
        app = create_app({"STORE": store, "TESTING": True, "CLINIC_TIMEZONE": TZ})
        services = app.extensions["circles"]
        try:
            load_demo(services.circles)
            coord_key, _ = services.storage.create_key("coordinator", "bench", None)
            ana_key, _ = services.storage.create_key("therapist", "bench", "t-ana")
            coord = {"Authorization": f"Bearer {coord_key}"}
            ana = {"Authorization": f"Bearer {ana_key}"}
            api = app.test_client()
            groups = api.get("/groups?limit=200", headers=coord).get_json()["items"]
            ipt = next(g for g in groups if g["name"] == "Tuesday evening IPT")
            sessions = api.get(f"/groups/{ipt['id']}/sessions?limit=200", headers=coord)
            now = services.clock().isoformat()
            later = [s for s in sessions.get_json()["items"] if s["starts_at"] > now]
            sent = _invitation(api, coord, ana, later[2]["id"], PATIENTS[1][0])
            accepted = _invitation(api, coord, ana, later[3]["id"], PATIENTS[2][0])
            assert api.post(accepted + "/accept").status_code == 200
            feed = api.post(f"/patients/{PATIENTS[1][0]}/feed-tokens", headers=coord)
            feed_path = "/" + feed.get_json()["url"].split("://", 1)[1].split("/", 1)[1]
            pairs = {
                "invitation, sent": (lambda: api.get(sent, headers=BROWSER),
                                     lambda: api.get(sent)),
                "invitation, accepted": (lambda: api.get(accepted, headers=BROWSER),
                                         lambda: api.get(accepted)),
                "patient's link page": (lambda: api.get(feed_path.removesuffix(".ics")),
                                        lambda: api.get(feed_path)),
            }  # fmt: skip
            assert api.get(sent, headers=BROWSER).mimetype == "text/html"
            assert api.get(sent).mimetype == "application/json"
            print(f"B7 private-link pages, demo clinic on SQLite, n={args.n}, rounds={args.rounds}")
            for name, (as_page, as_data) in pairs.items():
                _timed(as_page, 5), _timed(as_data, 5)  # warm caches alike
                ratios, page_times, data_times = [], [], []
                for _ in range(args.rounds):
                    data_time = _timed(as_data, args.n)
                    page_time = _timed(as_page, args.n)
                    ratios.append(page_time / data_time)
                    page_times.append(page_time)
                    data_times.append(data_time)
                ratio = statistics.median(ratios)
                print(
                    f"  {name:<21} page {statistics.median(page_times) * 1000:6.2f} ms  "
                    f"data {statistics.median(data_times) * 1000:6.2f} ms  "
                    f"ratio {ratio:4.2f}  ({'meets' if ratio <= 1.5 else 'MISSES'} the 1.5× bar)"
                )
        finally:
            services.close()


if __name__ == "__main__":
    main()
