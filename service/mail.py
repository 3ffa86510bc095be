"""Messages (SPEC §9): what each one says, and the worker that delivers the outbox.

``SMTP_URL`` (``smtp://user:pass@host:587``) selects real delivery: STARTTLS when the
server offers it, and credentials are never sent without it (``smtps://`` is TLS from the
start). Without ``SMTP_URL`` each message is written as ``<message id>.eml`` under
``var/outbox/`` (``$CIRCLES_DATA_DIR/outbox``): the demo shows what would be sent, and
nothing is dropped. ``MAIL_FROM`` names the sender.

Minimum necessary: the subject is "Your group session on <day>"; a message names no group,
modality, problem area, diagnosis, therapist or other person — the session's time, place
and (on the invitation) the invitee's private link, and the session as an ``.ics``.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from domain.application import Circles
from domain.session import TherapySession
from domain.values import add_elapsed
from projections.calendars import CalendarEntry
from projections.outbox import DEFERRED, FAILED, SENT, Kind, Letter, Message, Outbox
from projections.store import ConfigurationError
from service import ical

log = logging.getLogger(__name__)
DEFAULT_FROM = "Circles <no-reply@circles.invalid>"
MESSAGE_ID_DOMAIN = "circles"


def message_id_header(message_id: Any) -> str:
    """The ``Message-ID``: derived from the outbox's message id, so a message sent twice
    (at least once) arrives twice with one Message-ID and a receiver can drop the copy."""
    return f"<{message_id}@{MESSAGE_ID_DOMAIN}>"


# --- what a message says ----------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return f"{moment:%A %-d %B %Y} at {moment:%H:%M} ({moment.tzinfo})"


class Composer:
    """Turns a :class:`Letter` into the message's full text, from the session as stored."""

    def __init__(self, circles: Circles, mail_from: str = DEFAULT_FROM) -> None:
        self.circles = circles
        self.mail_from = mail_from

    def __call__(self, letter: Letter) -> str:
        session: Any = self.circles.repository.get(letter.session_id)
        assert isinstance(session, TherapySession)
        zone = ZoneInfo(session.timezone)
        starts = (letter.starts_at or session.starts_at).astimezone(zone)
        place = session.room_id or session.video_url
        ended = letter.kind in (Kind.REVOKED, Kind.CANCELLED)
        lines = {
            Kind.INVITATION: [
                f"You are invited to a group session on {_when(starts)}, for "
                f"{session.duration_minutes} minutes.",
                *([f"Where: {place}"] if place else []),
                "",
                "Please answer (accept or decline) through your private link:",
                f"{letter.link}",
                "",
                "The link is for you alone; please do not forward this message.",
            ],
            Kind.REVOKED: [
                f"The invitation to the group session on {_when(starts)} has been withdrawn.",
                "Please do not attend; your link no longer works.",
            ],
            Kind.MOVED: [
                f"The group session you were invited to has moved to {_when(starts)}.",
                *([f"Where: {place}"] if place else []),
            ],
            Kind.CANCELLED: [
                f"The group session on {_when(starts)} has been cancelled.",
                "Please do not attend.",
            ],
        }[letter.kind]
        message = EmailMessage()
        message["Subject"] = f"Your group session on {starts:%A %-d %B %Y}"
        message["From"] = self.mail_from
        message["To"] = letter.recipient
        message["Message-ID"] = message_id_header(letter.message_id)
        message["Date"] = format_datetime(letter.written_at.astimezone(UTC))
        message.set_content("Hello,\n\n" + "\n".join(lines) + "\n")
        entry = CalendarEntry(
            session_id=session.id, group_id=session.group_id, number=session.number,
            kind=getattr(session.kind, "value", str(session.kind)), starts_at=starts,
            ends_at=add_elapsed(starts, session.duration),
            duration_minutes=session.duration_minutes, timezone=session.timezone,
            status="cancelled" if ended else "scheduled",
            # The invitee's copy: a withdrawn invitation cancels it with a higher SEQUENCE.
            sequence=session.sequence + (1 if letter.kind == Kind.REVOKED else 0),
            last_modified=letter.written_at, room_id=session.room_id,
            video_url=session.video_url, facilitator_ids=(), make_up_for=None,
        )  # fmt: skip
        message.add_attachment(
            ical.render([entry], name="Group session"),
            maintype="text", subtype="calendar", filename="session.ics",
        )  # fmt: skip
        return message.as_string()


# --- how it is delivered ----------------------------------------------------------------------


class TransientError(Exception):
    """The message may go through later: 4xx answers, connection trouble."""


class PermanentError(Exception):
    """The message will never go through as it is: 5xx answers."""


class Sender(Protocol):
    def deliver(self, message: Message) -> str: ...


def _addresses(body: str) -> tuple[str, str]:
    from email import message_from_string

    parsed = message_from_string(body)
    return parseaddr(parsed["From"] or DEFAULT_FROM)[1], parseaddr(parsed["To"] or "")[1]


@dataclass(frozen=True)
class SmtpSender:
    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)  # the demo prints the sender
    implicit_tls: bool = False
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpSender:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError(
                f"SMTP_URL must look like smtp://user:pass@host:587 (got scheme {parts.scheme!r})"
            )
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if parts.scheme == "smtps" else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=parts.scheme == "smtps",
        )

    def deliver(self, message: Message) -> str:
        sender, recipient = _addresses(message.body)
        try:
            with self._connect() as smtp:
                refused = smtp.sendmail(sender, [recipient], _crlf(message.body))
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            raise _by_code(min(codes), str(error.recipients)) from error
        except smtplib.SMTPResponseException as error:
            raise _by_code(error.smtp_code, _text(error.smtp_error)) from error
        except (smtplib.SMTPException, OSError) as error:
            raise TransientError(f"{type(error).__name__}: {error}") from error
        if refused:
            raise _by_code(min(c for c, _ in refused.values()), str(refused))
        return f"accepted by {self.host}:{self.port}"

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.implicit_tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if not self.implicit_tls and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            elif not self.implicit_tls and self.username:
                raise PermanentError(
                    "the SMTP server does not offer STARTTLS; credentials are not sent in clear"
                )
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp


def _crlf(body: str) -> bytes:
    """SMTP lines end in CRLF (smtplib fixes line ends of ``str`` messages only, which
    must be ASCII; the stored text may hold 8-bit UTF-8 parts)."""
    return body.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _by_code(code: int, detail: str) -> Exception:
    if 500 <= code < 600:
        return PermanentError(f"{code} {detail}")
    return TransientError(f"{code} {detail}")


@dataclass(frozen=True)
class DirectorySender:
    """The embedded default: each message as ``<message id>.eml``, written whole (a temporary
    file renamed into place), private to the service's user."""

    directory: Path

    def deliver(self, message: Message) -> str:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.directory / f"{message.message_id}.eml"
        partial = target.with_suffix(".eml.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(message.body)
        partial.replace(target)
        return f"written to {target}"


def sender_from_env(environ: Mapping[str, str] | None = None) -> Sender:
    env = os.environ if environ is None else environ
    url = env.get("SMTP_URL", "").strip()
    if url:
        return SmtpSender.from_url(url)
    return DirectorySender(Path(env.get("CIRCLES_DATA_DIR") or "var") / "outbox")


# --- the worker -------------------------------------------------------------------------------


@dataclass
class Mailer:
    """Fills the outbox from the events, then delivers what is due, with backoff."""

    outbox: Outbox
    sender: Sender
    clock: Callable[[], datetime]
    max_attempts: int = 8
    first_retry: timedelta = timedelta(minutes=1)
    longest_wait: timedelta = timedelta(hours=6)
    lease: timedelta = timedelta(minutes=5)
    # A kept link is released by the fill that follows its save; one left this long had
    # no save (the command was refused or failed after keeping it).
    link_unclaimed_after: timedelta = timedelta(days=1)

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: 1, 2, 4 … minutes, capped."""
        return min(self.first_retry * (2 ** (attempts - 1)), self.longest_wait)

    def run_once(self) -> int:
        """Fill, then try every due message once; returns how many were tried."""
        self.outbox.catch_up()
        self.outbox.forget_links_kept_before(self.clock() - self.link_unclaimed_after)
        tried = 0
        while True:
            due = self.outbox.lease_due(self.clock(), self.lease)
            if not due:
                return tried
            for message in due:
                self.attempt(message)
                tried += 1

    def attempt(self, message: Message) -> None:
        try:
            detail = self.sender.deliver(message)
        except PermanentError as error:
            self.outbox.record(message, self.clock(), FAILED, str(error))
            log.error("message %s failed for good: %s", message.message_id, error)
            return
        except Exception as error:  # transient, or a fault nobody foresaw: try again later
            attempts = message.attempts + 1
            if attempts >= self.max_attempts:
                self.outbox.record(message, self.clock(), FAILED, f"gave up: {error}")
                log.error("message %s failed for good after %d attempts", message.message_id,
                          attempts)  # fmt: skip
                return
            retry_at = self.clock() + self.backoff(attempts)
            self.outbox.record(message, self.clock(), DEFERRED, str(error), retry_at)
            log.warning("message %s deferred until %s: %s", message.message_id, retry_at, error)
            return
        self.outbox.record(message, self.clock(), SENT, detail)

    def run_forever(self, stop: threading.Event, poll_interval: float = 5.0) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("the mailer failed; trying again")
            stop.wait(poll_interval)


# --- wiring into the app ----------------------------------------------------------------------


def outbox() -> Outbox:
    """The app's outbox, on the views' database (created on first use)."""
    from service.context import services

    found = services()
    existing = found.extra.get("outbox")
    if existing is None:
        projector = found.require_reads().projector
        mail_from = os.environ.get("MAIL_FROM", "").strip() or DEFAULT_FROM
        composer = Composer(found.circles, mail_from)
        existing = found.extra["outbox"] = Outbox(found.circles, projector.db, composer)
    assert isinstance(existing, Outbox)
    return existing


def mailer(sender: Sender | None = None) -> Mailer:
    from service.context import services

    return Mailer(outbox(), sender or sender_from_env(), services().clock)
