"""Staff who sign in to the pages: accounts, browser sessions and failed sign-ins.

These tables sit beside the API keys (same database, same small SQL layer). Passwords are
stored only as argon2id hashes; a browser session is an opaque random token whose SHA-256
is stored, so a copy of the database lets nobody sign in. Times come from the app's clock,
so idle sign-out and throttling are tested by moving the clock, not by sleeping.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from domain.bounds import CONTROL_CHARACTERS, ID_MESSAGE, ID_PATTERN
from service.keys_and_idempotency import ROLES, _Database, _is_unique_violation, hash_key

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200
_EMAIL = re.compile(
    rf"^[^@\s{CONTROL_CHARACTERS}]{{1,100}}@[^@\s{CONTROL_CHARACTERS}]{{1,150}}\.[^@\s{CONTROL_CHARACTERS}]{{1,40}}$"
)
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
_ID = re.compile(ID_PATTERN, re.ASCII)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS circles_staff_users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        therapist_id TEXT,
        password_hash TEXT NOT NULL,
        must_change_password INTEGER NOT NULL DEFAULT 0,
        totp_secret TEXT,
        generation INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        disabled_at TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS circles_staff_sessions (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        generation INTEGER NOT NULL,
        csrf TEXT NOT NULL,
        pending_totp INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        notices TEXT NOT NULL DEFAULT '[]'
    )""",
    """CREATE TABLE IF NOT EXISTS circles_signin_failures (
        scope TEXT NOT NULL,
        subject TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS circles_signin_failures_subject
        ON circles_signin_failures (scope, subject, at)""",
]

_USER_COLUMNS = (
    "id, email, name, role, therapist_id, password_hash, must_change_password, totp_secret, "
    "generation, created_at, disabled_at"
)
_USER_COLUMNS_OF_U = ", ".join(f"u.{c.strip()}" for c in _USER_COLUMNS.split(","))
# A session's last activity is written at most this often (see ``session``).
TOUCH_EVERY = timedelta(seconds=30)


class StaffUserError(ValueError):
    """Input for a staff account that cannot be accepted; ``field`` names the form field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class StaffUser:
    id: str
    email: str
    name: str
    role: str
    therapist_id: str | None
    must_change_password: bool
    totp_enabled: bool
    generation: int
    created_at: datetime
    disabled_at: datetime | None

    @property
    def actor(self) -> str:
        """How events name the signed-in person: readable and unique, like a key's holder."""
        return f"{self.name} <{self.role} {self.email}>"

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class BrowserSession:
    user: StaffUser
    csrf: str
    pending_totp: bool
    last_seen: datetime
    # Whether notices were waiting when the session was read: a page takes them only then.
    has_notices: bool = False


@dataclass(frozen=True)
class SessionEnded:
    """No live session: ``idle`` when it ran out for want of activity."""

    idle: bool


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise StaffUserError(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters.", "password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise StaffUserError(
            f"A password has at most {MAX_PASSWORD_LENGTH} characters.", "password"
        )
    return password


def generate_password() -> str:
    """A password to hand over once: 4 groups of 5 unambiguous characters (~100 bits)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


def _clean_account(
    email: str, name: str, role: str, therapist_id: str | None
) -> tuple[str, str, str, str | None]:
    email = (email or "").strip().lower()
    name = (name or "").strip()
    therapist_id = (therapist_id or "").strip() or None
    if not _EMAIL.match(email):
        raise StaffUserError("Give an email address like dana@clinic.example.", "email")
    if not name or len(name) > 200 or _CONTROL.search(name):
        raise StaffUserError(
            "Give the person's name (at most 200 characters, no control characters).", "name"
        )
    if role not in ROLES:
        raise StaffUserError(f"The role is one of {', '.join(ROLES)}.", "role")
    if role == "therapist" and therapist_id is None:
        raise StaffUserError("A therapist account needs the clinic's therapist id.", "therapist_id")
    if role != "therapist" and therapist_id is not None:
        raise StaffUserError("Only a therapist account has a therapist id.", "therapist_id")
    if therapist_id is not None and not _ID.match(therapist_id):
        raise StaffUserError(f"A therapist id {ID_MESSAGE}.", "therapist_id")
    return email, name, role, therapist_id


class StaffAccounts:
    """Staff users, their browser sessions, and the failed sign-in log."""

    def __init__(self, db: _Database, hasher: PasswordHasher | None = None) -> None:
        self._db = db
        # argon2id with the library's defaults (RFC 9106's low-memory profile: 64 MiB, t=3).
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None
        with db.connect() as conn:
            for statement in SCHEMA:
                conn.execute(statement)

    # --- accounts -----------------------------------------------------------------------------

    def create(
        self,
        email: str,
        name: str,
        role: str,
        password: str,
        now: datetime,
        therapist_id: str | None = None,
        must_change_password: bool = False,
    ) -> StaffUser:
        email, name, role, therapist_id = _clean_account(email, name, role, therapist_id)
        digest = self.hasher.hash(check_password(password))
        user_id = str(uuid.uuid4())
        try:
            with self._db.connect() as conn:
                conn.execute(
                    "INSERT INTO circles_staff_users (id, email, name, role, therapist_id, "
                    "password_hash, must_change_password, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (user_id, email, name, role, therapist_id, digest,
                     int(must_change_password), now.isoformat()),
                )  # fmt: skip
        except Exception as error:
            if _is_unique_violation(error):
                raise StaffUserError(f"There is already an account for {email}.", "email") from None
            raise
        found = self.get(user_id)
        assert found is not None
        return found

    def get(self, user_id: str) -> StaffUser | None:
        return self._one(f"SELECT {_USER_COLUMNS} FROM circles_staff_users WHERE id = ?", user_id)

    def by_email(self, email: str) -> StaffUser | None:
        return self._one(
            f"SELECT {_USER_COLUMNS} FROM circles_staff_users WHERE email = ?",
            (email or "").strip().lower(),
        )

    def all(self) -> list[StaffUser]:
        with self._db.connect(write=False) as conn:
            rows = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM circles_staff_users ORDER BY role, name, email"
            ).fetchall()
        return [self._user(r) for r in rows]

    def _one(self, sql: str, arg: str) -> StaffUser | None:
        with self._db.connect(write=False) as conn:
            row = conn.execute(sql, (arg,)).fetchone()
        return None if row is None else self._user(row)

    def verify_password(self, email: str, password: str) -> StaffUser | None:
        """The active account with this email and password, or None (same work either way)."""
        with self._db.connect(write=False) as conn:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM circles_staff_users WHERE email = ?",
                ((email or "").strip().lower(),),
            ).fetchone()
        digest = row[5] if row is not None else self._dummy_hash()
        try:
            self.hasher.verify(digest, password or "")
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        user = self._user(row)
        return user if user.is_active else None

    def set_password(self, user_id: str, password: str, must_change: bool) -> None:
        digest = self.hasher.hash(check_password(password))
        with self._db.connect() as conn:
            conn.execute(
                "UPDATE circles_staff_users SET password_hash = ?, must_change_password = ? "
                "WHERE id = ?",
                (digest, int(must_change), user_id),
            )

    def reset(self, user_id: str) -> str:
        """A new one-time password; the second factor is removed and every session ended
        (the usual reason is a lost password or phone)."""
        password = generate_password()
        with self._db.connect() as conn:
            conn.execute(
                "UPDATE circles_staff_users SET password_hash = ?, must_change_password = 1, "
                "totp_secret = NULL, generation = generation + 1 WHERE id = ?",
                (self.hasher.hash(password), user_id),
            )
            conn.execute("DELETE FROM circles_staff_sessions WHERE user_id = ?", (user_id,))
        return password

    def set_disabled(self, user_id: str, disabled: bool, now: datetime) -> None:
        with self._db.connect() as conn:
            conn.execute(
                "UPDATE circles_staff_users SET disabled_at = ?, generation = generation + 1 "
                "WHERE id = ?",
                (now.isoformat() if disabled else None, user_id),
            )
            conn.execute("DELETE FROM circles_staff_sessions WHERE user_id = ?", (user_id,))

    def set_totp(self, user_id: str, secret: str | None) -> None:
        with self._db.connect() as conn:
            conn.execute(
                "UPDATE circles_staff_users SET totp_secret = ? WHERE id = ?", (secret, user_id)
            )

    def totp_secret(self, user_id: str) -> str | None:
        with self._db.connect(write=False) as conn:
            row = conn.execute(
                "SELECT totp_secret FROM circles_staff_users WHERE id = ?", (user_id,)
            ).fetchone()
        return None if row is None else row[0]

    def _dummy_hash(self) -> str:
        """Verified against when the email is unknown, so both answers take as long."""
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    @staticmethod
    def _user(row: Sequence[Any]) -> StaffUser:
        return StaffUser(
            id=row[0],
            email=row[1],
            name=row[2],
            role=row[3],
            therapist_id=row[4],
            must_change_password=bool(row[6]),
            totp_enabled=row[7] is not None,
            generation=int(row[8]),
            created_at=datetime.fromisoformat(row[9]),
            disabled_at=None if row[10] is None else datetime.fromisoformat(row[10]),
        )

    # --- browser sessions ---------------------------------------------------------------------

    def start_session(self, user: StaffUser, now: datetime) -> str:
        """A new session token (the cookie's value); a second factor is still owed if on."""
        token = secrets.token_urlsafe(32)
        with self._db.connect() as conn:
            conn.execute(
                "INSERT INTO circles_staff_sessions (token_hash, user_id, generation, csrf, "
                "pending_totp, created_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (hash_key(token), user.id, user.generation, secrets.token_urlsafe(32),
                 int(user.totp_enabled), now.isoformat(), now.isoformat()),
            )  # fmt: skip
        return token

    def session(self, token: str, now: datetime, idle: timedelta) -> BrowserSession | SessionEnded:
        """The live session for ``token``, touched; or why there is none: unknown, idle too
        long, or the account was disabled or reset since (the last three end it).

        Most page views only read: the session is touched (a write) when its last touch is
        ``TOUCH_EVERY`` old, so idle time is measured from a moment at most that early."""
        digest = hash_key(token)
        with self._db.connect(write=False) as conn:
            row = conn.execute(
                "SELECT s.generation, s.csrf, s.pending_totp, s.last_seen, s.notices, "
                f"{_USER_COLUMNS_OF_U} "
                "FROM circles_staff_sessions s JOIN circles_staff_users u ON u.id = s.user_id "
                "WHERE s.token_hash = ?",
                (digest,),
            ).fetchone()
        if row is None:
            self.end_session(token)  # the account is gone, if the session was not
            return SessionEnded(idle=False)
        last_seen = datetime.fromisoformat(row[3])
        idle_ended = now - last_seen >= idle
        user = self._user(row[5:])
        if idle_ended or not user.is_active or user.generation != int(row[0]):
            self.end_session(token)
            return SessionEnded(idle=idle_ended)
        if now - last_seen >= TOUCH_EVERY:
            with self._db.connect() as conn:
                conn.execute(
                    "UPDATE circles_staff_sessions SET last_seen = ? WHERE token_hash = ?",
                    (now.isoformat(), digest),
                )
            last_seen = now
        return BrowserSession(
            user=user,
            csrf=row[1],
            pending_totp=bool(row[2]),
            last_seen=last_seen,
            has_notices=row[4] != "[]",
        )

    def second_factor_done(self, token: str) -> str:
        """The second factor was given: the session is complete, with a fresh token."""
        fresh = secrets.token_urlsafe(32)
        with self._db.connect() as conn:
            conn.execute(
                "UPDATE circles_staff_sessions SET pending_totp = 0, token_hash = ? "
                "WHERE token_hash = ?",
                (hash_key(fresh), hash_key(token)),
            )
        return fresh

    def end_session(self, token: str) -> None:
        with self._db.connect() as conn:
            conn.execute(
                "DELETE FROM circles_staff_sessions WHERE token_hash = ?", (hash_key(token),)
            )

    def add_notice(self, token: str, text: str) -> None:
        """A one-time message for the next page this session sees (after a redirect)."""
        digest = hash_key(token)
        with self._db.connect() as conn:
            row = conn.execute(
                "SELECT notices FROM circles_staff_sessions WHERE token_hash = ?", (digest,)
            ).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE circles_staff_sessions SET notices = ? WHERE token_hash = ?",
                    (json.dumps([*json.loads(row[0]), text]), digest),
                )

    def take_notices(self, token: str) -> list[str]:
        digest = hash_key(token)
        with self._db.connect(write=False) as conn:  # usually there are none: only read
            row = conn.execute(
                "SELECT notices FROM circles_staff_sessions WHERE token_hash = ?", (digest,)
            ).fetchone()
        if row is None or row[0] == "[]":
            return []
        with self._db.connect() as conn:
            row = conn.execute(
                "SELECT notices FROM circles_staff_sessions WHERE token_hash = ?", (digest,)
            ).fetchone()
            if row is None or row[0] == "[]":
                return []
            conn.execute(
                "UPDATE circles_staff_sessions SET notices = '[]' WHERE token_hash = ?", (digest,)
            )
        found: list[str] = json.loads(row[0])
        return found

    # --- throttling ---------------------------------------------------------------------------

    def record_failure(self, scopes: dict[str, str], now: datetime) -> None:
        with self._db.connect() as conn:
            # Failures older than a day throttle nobody: keep the table small.
            conn.execute(
                "DELETE FROM circles_signin_failures WHERE at < ?",
                ((now - timedelta(days=1)).timestamp(),),
            )
            for scope, subject in scopes.items():
                conn.execute(
                    "INSERT INTO circles_signin_failures (scope, subject, at) VALUES (?, ?, ?)",
                    (scope, subject, now.timestamp()),
                )

    def failures_since(self, scope: str, subject: str, since: datetime) -> list[datetime]:
        with self._db.connect(write=False) as conn:
            rows = conn.execute(
                "SELECT at FROM circles_signin_failures WHERE scope = ? AND subject = ? "
                "AND at > ? ORDER BY at",
                (scope, subject, since.timestamp()),
            ).fetchall()
        return [datetime.fromtimestamp(float(r[0]), UTC) for r in rows]

    def clear_failures(self, scope: str, subject: str) -> None:
        with self._db.connect() as conn:
            conn.execute(
                "DELETE FROM circles_signin_failures WHERE scope = ? AND subject = ?",
                (scope, subject),
            )
