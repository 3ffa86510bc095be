"""PHI at rest outside the event store: sealed columns and blind indexes (SPEC §6).

With ``CIPHER_KEY`` set, two keys are derived from it with HKDF-SHA256 (separate ``info``
labels, so neither reveals the other or the event cipher's key):

* **seal**: AES-256-GCM with a random 96-bit nonce per value, for columns that are only
  displayed (names, relationship, problem area, group name and modality, idempotency
  replies, the display copy of an identifier). Stored as text ``s1:<base64url(nonce ‖
  ciphertext ‖ tag)>``; the column's name is the associated data, so a value moved to
  another column does not open. ``s1`` is the format version: a new format gets a new
  prefix and :meth:`Sealer.open` can tell them apart.
* **blind index**: HMAC-SHA256 of an identifier that is looked up or joined on (patient id,
  therapist id), kept to 128 bits (base64url, 22 characters). Equal ids give equal
  indexes, so lookups, joins and primary keys keep working; 128 bits keep accidental
  collisions out of reach (a shorter index, as CipherSweet uses for fuzzy matches, would
  mix two patients' rows in a join). The kind of identifier is part of the message, so a
  patient and a therapist with the same id get different indexes.

Without ``CIPHER_KEY`` (the embedded demo) the same calls are the identity: views hold
plain text and every caller goes through one code path either way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "s1:"
NONCE_BYTES = 12
INDEX_BYTES = 16
_SALT = b"circles/at-rest/v1"
# Text is bytes by UTF-8; "surrogatepass" so a lone surrogate that got into an event (JSON
# allows "\ud800") still seals, opens and indexes instead of failing a view.
_UTF8 = ("utf-8", "surrogatepass")


class SealError(ValueError):
    """A stored value does not open under this key (another key, or altered)."""


def _derive(secret: bytes, label: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=label).derive(secret)


class Sealer:
    """``seal``/``open`` for display-only values, ``index`` for looked-up identifiers."""

    def __init__(self, cipher_key: str | None) -> None:
        self.enabled = bool(cipher_key)
        self._aead: AESGCM | None = None
        self._index_key = b""
        self.key_check = ""
        if cipher_key:
            # Imported only with a key: the demo does not load OpenSSL's bindings (~10 MiB).
            from cryptography.exceptions import InvalidTag
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._invalid_tag: type[Exception] = InvalidTag
            secret = cipher_key.encode()
            self._aead = AESGCM(_derive(secret, b"circles view seal"))
            self._index_key = _derive(secret, b"circles blind index")
            # Names the key without revealing it: views sealed under another key start over.
            check = _derive(secret, b"circles key check")
            self.key_check = base64.urlsafe_b64encode(check[:9]).decode()
        # Indexes are deterministic: remember the recent ones (ids recur on every attendance).
        self._cached_index = lru_cache(maxsize=4096)(self._index)

    def seal(self, value: str | None, column: str) -> str | None:
        """``value`` encrypted for ``column`` (None stays None)."""
        if value is None or self._aead is None:
            return value
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode(*_UTF8), column.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, stored: str | None, column: str) -> str | None:
        """The value ``seal(value, column)`` stored (None stays None)."""
        if stored is None or self._aead is None:
            return stored
        if not stored.startswith(PREFIX):
            raise SealError(f"{column}: not a sealed value")
        try:
            raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], column.encode())
        except (self._invalid_tag, ValueError) as error:
            raise SealError(f"{column}: does not open under this CIPHER_KEY") from error
        return plain.decode(*_UTF8)

    def _index(self, value: str, kind: str) -> str:
        if not self.enabled:
            return value
        digest = hmac.digest(self._index_key, f"{kind}\0{value}".encode(*_UTF8), hashlib.sha256)
        return base64.urlsafe_b64encode(digest[:INDEX_BYTES]).decode().rstrip("=")

    def index(self, value: str, kind: str) -> str:
        """The blind index of identifier ``value`` of ``kind`` ("patient", "therapist")."""
        return self._cached_index(value, kind)

    def open_row(self, row: tuple[Any, ...], columns: dict[int, str]) -> tuple[Any, ...]:
        """``row`` with the sealed values at ``columns`` (position → column name) opened."""
        if self._aead is None or not columns:
            return row
        return tuple(self.open(v, columns[i]) if i in columns else v for i, v in enumerate(row))


IDENTITY = Sealer(None)
