"""A significant-other invitation from proposal to sending, and its refusals."""

from __future__ import annotations

from tests.service.conftest import Api, problem

MISSING = "00000000-0000-4000-8000-000000000000"
CONSENT = {"signed_by": "Pat", "signed_at": "2027-01-03T10:00:00+00:00", "document_ref": "d-1"}


def _invitation(api: Api) -> tuple[str, str]:
    group = api.group(guest_limit=1)
    sid = api.plan(group["id"])[0]["id"]
    api.enroll(group["id"], "p-1")
    r = api.post(
        f"/sessions/{sid}/invitations",
        json={
            "patient_id": "p-1",
            "invitee_name": "Sam",
            "relationship": "spouse",
            "invitee_email": "sam@example.org",
        },
    )
    assert r.status_code == 201, r.get_json()
    return sid, r.get_json()["id"]


def test_invitation_lifecycle(api: Api) -> None:
    sid, iid = _invitation(api)
    url = f"/invitations/{iid}"
    problem(api.post(f"{url}/send"), 409)  # before approval
    problem(api.post(f"{url}/consent", json=CONSENT), 409)
    problem(api.post(f"{url}/approve", role="other_therapist"), 404)  # not a facilitator
    r = api.post(f"{url}/approve", role="therapist")
    assert r.status_code == 200 and r.get_json()["approved_by"] == "t-ana"
    problem(api.post(f"{url}/approve", role="therapist"), 409)
    # 02:30 did not exist in New York on 8 March 2026 (the clocks went forward).
    skipped_time = {**CONSENT, "signed_at": "2026-03-08T02:30"}
    skipped = problem(api.post(f"{url}/consent", json=skipped_time), 422)
    assert "signed_at" in skipped["errors"]
    problem(api.post(f"{url}/consent", json={**CONSENT, "signed_at": "2099-01-01T10:00Z"}), 422)
    # A time without an offset is the group's wall-clock time (SPEC §5).
    r = api.post(f"{url}/consent", json={**CONSENT, "signed_at": "2027-01-03T10:00"})
    assert r.get_json()["status"] == "consented"
    assert r.get_json()["consent"]["signed_at"] == "2027-01-03T10:00:00-05:00"
    problem(api.post(f"{url}/send", headers={"If-Match": '"1"'}), 412)
    r = api.post(f"{url}/send")
    assert r.status_code == 200 and r.get_json()["status"] == "sent" and "url" in r.get_json()
    assert api.get(url).get_json()["status"] == "sent"
    r = api.post(f"{url}/revoke", json={"reason": "patient changed their mind"})
    assert r.get_json()["status"] == "revoked"
    problem(api.post(f"{url}/revoke", json={"reason": "again"}), 409)
    types = [e["type"] for e in api.get(f"{url}/history").get_json()["items"]]
    assert types[0] == "Invitation.Proposed" and types[-1] == "Invitation.Revoked"


def test_invitation_errors(api: Api) -> None:
    sid, _ = _invitation(api)
    body = {"patient_id": "p-1", "invitee_name": "Mo", "relationship": "parent"}
    problem(api.post(f"/sessions/{sid}/invitations", json=body), 409)  # guest limit 1
    problem(api.post(f"/sessions/{sid}/invitations", json={**body, "patient_id": "p-9"}), 409)
    problem(api.post(f"/sessions/{sid}/invitations", json={**body, "invitee_email": "nope"}), 422)
    problem(api.post(f"/sessions/{MISSING}/invitations", json=body), 404)
    for action in ("approve", "send"):
        role = "therapist" if action == "approve" else "coordinator"
        problem(api.post(f"/invitations/{MISSING}/{action}", role=role), 404)
    problem(api.post(f"/invitations/{MISSING}/consent", json=CONSENT), 404)
    problem(api.post(f"/invitations/{MISSING}/revoke", json={"reason": "x"}), 404)
    problem(api.get(f"/invitations/{MISSING}"), 404)
    problem(api.get(f"/invitations/{MISSING}/history"), 404)
