"""Messages from the outbox (SPEC §9), delivered to a real SMTP server in this process.

The server is aiosmtpd on a free local port; the service runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import icalendar
import pytest
from aiosmtpd.controller import Controller

from projections.outbox import Outbox
from service.mail import DirectorySender, Mailer, SmtpSender, mailer, message_id_header, outbox
from tests.service.conftest import Api

CONSENT = {"signed_by": "Pat", "signed_at": "2027-01-03T10:00:00+00:00", "document_ref": "d-1"}


class Inbox:
    """An aiosmtpd handler: answers each DATA with the next scripted reply (then 250)."""

    def __init__(self) -> None:
        self.replies: list[str] = []
        self.received: list[EmailMessage] = []
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.replies:
            self.refused += 1
            return self.replies.pop(0)
        self.received.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpSender]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, SmtpSender.from_url(f"smtp://127.0.0.1:{port}")
    finally:
        controller.stop()


def _sent_invitation(api: Api, email_address: str | None = "sam@example.org") -> dict[str, Any]:
    group = api.group(guest_limit=1, name="Grief and loss group")
    sid = api.plan(group["id"])[0]["id"]
    api.enroll(group["id"], "p-1")
    body = {"patient_id": "p-1", "invitee_name": "Sam", "relationship": "spouse"}
    if email_address:
        body["invitee_email"] = email_address
    r = api.post(f"/sessions/{sid}/invitations", json=body)
    assert r.status_code == 201, r.get_json()
    iid = r.get_json()["id"]
    assert api.post(f"/invitations/{iid}/approve", role="therapist").status_code == 200
    assert api.post(f"/invitations/{iid}/consent", json=CONSENT).status_code == 200
    r = api.post(f"/invitations/{iid}/send")
    assert r.status_code == 200, r.get_json()
    return {"session_id": sid, "invitation_id": iid, "url": r.get_json()["url"]}


def _mailer(api: Api, sender: Any) -> Mailer:
    with api.app.app_context():
        return mailer(sender)


def _outbox(api: Api) -> Outbox:
    with api.app.app_context():
        return outbox()


def _text(message: EmailMessage) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return str(part.get_payload(decode=True).decode())  # type: ignore[union-attr]
    raise AssertionError("no text part")


def _ics(message: EmailMessage) -> Any:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return icalendar.Calendar.from_ical(payload)
    raise AssertionError("no calendar part")


def test_the_invitation_is_delivered_with_its_link_and_the_session(
    api: Api, smtp: tuple[Inbox, SmtpSender]
) -> None:
    inbox, sender = smtp
    sent = _sent_invitation(api)
    worker = _mailer(api, sender)
    assert worker.run_once() == 1
    [message] = inbox.received
    assert message["To"] == "sam@example.org"
    assert message["Subject"] == "Your group session on Tuesday 2 March 2027"
    text = _text(message)
    assert sent["url"] in text and "/i/" in sent["url"]
    # Minimum necessary: no group name (it names the problem area), no patient, no modality.
    whole = message.as_string()
    for private in ("Grief", "p-1", "Patient", "spouse", "Sam,"):
        assert private not in whole
    [vevent] = _ics(message).walk("VEVENT")
    assert str(vevent["UID"]) == f"{sent['session_id']}@circles"
    assert vevent["STATUS"] == "CONFIRMED"
    [delivery] = _outbox(api).deliveries(sent["invitation_id"])
    assert (delivery.kind, delivery.status, delivery.attempts) == ("invitation", "sent", 1)
    assert message["Message-ID"] == message_id_header(delivery.message_id)
    assert worker.run_once() == 0  # sent once: nothing more to do


def test_a_refusing_server_gets_the_message_on_a_later_attempt(
    api: Api, smtp: tuple[Inbox, SmtpSender]
) -> None:
    inbox, sender = smtp
    inbox.replies = ["451 4.3.0 Try again later"]
    sent = _sent_invitation(api)
    worker = _mailer(api, sender)
    assert worker.run_once() == 1
    [delivery] = _outbox(api).deliveries(sent["invitation_id"])
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error is not None and "451" in delivery.last_error
    assert delivery.next_attempt_at == api.clock() + worker.backoff(1)
    assert worker.run_once() == 0 and not inbox.received  # not due yet
    api.clock.advance(minutes=1)
    assert worker.run_once() == 1
    assert len(inbox.received) == 1 and inbox.refused == 1
    [delivery] = _outbox(api).deliveries(sent["invitation_id"])
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    shown = api.get(f"/invitations/{sent['invitation_id']}/messages")
    assert shown.status_code == 200, shown.get_json()
    [message] = shown.get_json()["messages"]
    assert (message["kind"], message["status"], message["attempts"]) == ("invitation", "sent", 2)
    assert [a["outcome"] for a in message["history"]] == ["deferred", "sent"]
    assert "451" in message["history"][0]["detail"]


def test_a_permanent_refusal_fails_for_good(api: Api, smtp: tuple[Inbox, SmtpSender]) -> None:
    inbox, sender = smtp
    inbox.replies = ["550 5.1.1 No such mailbox"]
    sent = _sent_invitation(api)
    worker = _mailer(api, sender)
    worker.run_once()
    api.clock.advance(days=1)
    assert worker.run_once() == 0
    [delivery] = _outbox(api).deliveries(sent["invitation_id"])
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error is not None and "550" in delivery.last_error


class Killed(BaseException):
    """The worker dies (as SIGKILL would) after the server took the message."""


def test_a_worker_killed_between_sending_and_recording_sends_again_with_the_same_message_id(
    api: Api, smtp: tuple[Inbox, SmtpSender], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, sender = smtp
    sent = _sent_invitation(api)
    box = _outbox(api)
    worker = _mailer(api, sender)

    def killed(*args: Any, **kwargs: Any) -> None:
        raise Killed

    monkeypatch.setattr(box, "record", killed)
    with pytest.raises(Killed):
        worker.run_once()
    monkeypatch.undo()
    assert len(inbox.received) == 1
    [delivery] = box.deliveries(sent["invitation_id"])
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert worker.run_once() == 0  # the dead worker's lease still holds
    api.clock.advance(seconds=worker.lease.total_seconds())
    assert worker.run_once() == 1
    first, second = inbox.received
    assert first["Message-ID"] == second["Message-ID"] == message_id_header(delivery.message_id)
    assert box.deliveries(sent["invitation_id"])[0].status == "sent"


def test_revoking_moving_and_cancelling_tell_the_invitee(
    api: Api, smtp: tuple[Inbox, SmtpSender]
) -> None:
    inbox, sender = smtp
    moved = _sent_invitation(api)
    worker = _mailer(api, sender)
    sid = moved["session_id"]
    body = {"starts_at": "2027-03-03T19:00", "reason": "room closed"}
    assert api.post(f"/sessions/{sid}/reschedule", json=body).status_code == 200
    assert api.post(f"/sessions/{sid}/cancel", json={"reason": "therapist ill"}).status_code == 200
    worker.run_once()
    kinds = [d.kind for d in _outbox(api).deliveries(moved["invitation_id"])]
    assert kinds == ["invitation", "session-moved", "session-cancelled"]
    invitation, moved_notice, cancelled = inbox.received
    assert "Wednesday 3 March 2027 at 19:00" in _text(moved_notice)
    assert "room closed" not in moved_notice.as_string()  # the reason stays in the clinic
    [vevent] = _ics(cancelled).walk("VEVENT")
    assert vevent["STATUS"] == "CANCELLED"
    assert {m["Subject"] for m in inbox.received[1:]} == {
        "Your group session on Wednesday 3 March 2027"
    }


def test_a_revoked_invitation_is_withdrawn_and_an_unsent_one_says_nothing(
    api: Api, smtp: tuple[Inbox, SmtpSender]
) -> None:
    inbox, sender = smtp
    sent = _sent_invitation(api)
    iid = sent["invitation_id"]
    assert api.post(f"/invitations/{iid}/revoke", json={"reason": "x"}).status_code == 200
    worker = _mailer(api, sender)
    worker.run_once()
    subject = "Your group session on Tuesday 2 March 2027"
    assert [m["Subject"] for m in inbox.received] == [subject, subject]
    assert "withdrawn" in _text(inbox.received[1])
    [vevent] = _ics(inbox.received[1]).walk("VEVENT")
    assert vevent["STATUS"] == "CANCELLED"


def test_filling_again_never_sends_again(api: Api, smtp: tuple[Inbox, SmtpSender]) -> None:
    """A lost tracking position (or views rebuilt) fills from the first event again: the
    message ids are the events', so nothing is added and what was sent stays sent."""
    inbox, sender = smtp
    sent = _sent_invitation(api)
    worker = _mailer(api, sender)
    worker.run_once()
    box = _outbox(api)
    with box.db.write() as tx:
        tx.execute("UPDATE outbox_tracking SET position=0")
    with api.app.app_context():
        from service.context import services

        services().require_reads().projector.begin_rebuild()
        services().require_reads().projector.catch_up()
    assert worker.run_once() == 0
    assert len(inbox.received) == 1
    assert [d.status for d in box.deliveries(sent["invitation_id"])] == ["sent"]


def test_without_smtp_each_message_is_an_eml_file(api: Api, tmp_path: Path) -> None:
    sent = _sent_invitation(api)
    worker = _mailer(api, DirectorySender(tmp_path / "outbox"))
    assert worker.run_once() == 1
    [file] = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(file.read_bytes())
    assert sent["url"] in _text(message)
    [delivery] = _outbox(api).deliveries(sent["invitation_id"])
    assert file.name == f"{delivery.message_id}.eml" and delivery.status == "sent"
    assert file.stat().st_mode & 0o077 == 0


def test_an_invitee_without_email_gets_no_message(api: Api, tmp_path: Path) -> None:
    sent = _sent_invitation(api, email_address=None)
    worker = _mailer(api, DirectorySender(tmp_path / "outbox"))
    assert worker.run_once() == 0
    assert _outbox(api).deliveries(sent["invitation_id"]) == []


def test_the_invitations_calendar_opens_in_icalendar_vobject_and_libical(
    api: Api, smtp: tuple[Inbox, SmtpSender]
) -> None:
    from tests.feeds.conftest import assert_passes_libical, parse

    inbox, sender = smtp
    sent = _sent_invitation(api)
    _mailer(api, sender).run_once()
    [part] = [p for p in inbox.received[0].walk() if p.get_content_type() == "text/calendar"]
    body = part.get_payload(decode=True)
    assert isinstance(body, bytes)
    parsed = parse(body)  # icalendar and vobject, which must agree
    [vevent] = parsed.vevents
    assert str(vevent.uid.value) == f"{sent['session_id']}@circles"
    assert vevent.dtstart.value.isoformat() == "2027-03-02T18:00:00-05:00"  # the group's New York
    assert_passes_libical(body)


def test_with_a_cipher_key_no_address_or_link_is_stored_in_clear(
    durable_store: Any, clock: Any, smtp: tuple[Inbox, SmtpSender]
) -> None:
    from projections.store import StoreSettings
    from tests.service.conftest import make_api
    from tests.service.test_at_rest import KEY, forms, stored_bytes

    keyed = StoreSettings(**{**durable_store.__dict__, "cipher_key": KEY})
    inbox, sender = smtp
    apis = make_api(keyed, clock)
    api = next(apis)
    try:
        sent = _sent_invitation(api, email_address="zanzibar.quill@example.org")
        token = sent["url"].rsplit("/", 1)[1]
        _mailer(api, sender).run_once()
        assert token in _text(inbox.received[0])
        iid = sent["invitation_id"]
        assert api.post(f"/invitations/{iid}/revoke", json={"reason": "x"}).status_code == 200
        _mailer(api, sender).run_once()
        assert len(inbox.received) == 2
        data = stored_bytes(keyed)
        for needle in ("zanzibar.quill@example.org", token, "Your group session on"):
            assert not any(form in data for form in forms(needle)), needle
    finally:
        for _ in apis:  # runs make_api's cleanup
            pass


def test_a_link_kept_for_a_send_that_was_never_saved_is_forgotten(api: Api) -> None:
    from uuid import uuid4

    box = _outbox(api)
    box.keep_link(uuid4(), uuid4(), "https://x.example/i/never-issued", api.clock())
    worker = _mailer(api, DirectorySender(Path("/nonexistent")))
    worker.run_once()
    with box.db.read() as tx:
        assert tx.one("SELECT COUNT(*) FROM outbox_links") == (1,)
    api.clock.advance(days=1, seconds=1)
    worker.run_once()
    with box.db.read() as tx:
        assert tx.one("SELECT COUNT(*) FROM outbox_links") == (0,)


def test_the_send_messages_command_writes_eml_files_without_smtp_url(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMTP_URL", raising=False)
    monkeypatch.setenv("CIRCLES_DATA_DIR", str(tmp_path))
    sent = _sent_invitation(api)
    result = api.app.test_cli_runner().invoke(args=["send-messages", "--once"])
    assert result.exit_code == 0, result.output
    [delivery] = _outbox(api).deliveries(sent["invitation_id"])
    assert (tmp_path / "outbox" / f"{delivery.message_id}.eml").exists()
