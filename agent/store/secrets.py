"""Encryption of secrets at rest (tokens, client secrets) with a key from ATX_SECRET_KEY.

The user's ATX_SECRET_KEY string (any length) is stretched to a 32-byte Fernet key with
HKDF-SHA256, salt ``b"atx-secret-store"``, info ``b"atx fernet key v1"``. Both are fixed on
purpose: changing either makes every stored secret unreadable. Stored values carry a prefix:
``fernet:`` (encrypted) or ``plain:`` (only with ATX_ALLOW_PLAINTEXT_SECRETS=true).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from agent.store.errors import SecretKeyMismatch, SecretKeyMissing

HKDF_SALT = b"atx-secret-store"
HKDF_INFO = b"atx fernet key v1"
_ENCRYPTED = "fernet:"
_PLAIN = "plain:"

MISSING_KEY_TO_STORE = (
    "refusing to store a secret unencrypted: set ATX_SECRET_KEY, "
    "or ATX_ALLOW_PLAINTEXT_SECRETS=true to store unencrypted"
)
MISSING_KEY_TO_READ = (
    "the stored tokens and secrets are encrypted: "
    "set ATX_SECRET_KEY to the key they were saved with"
)
WRONG_KEY = (
    "the stored tokens and secrets were encrypted with a different ATX_SECRET_KEY: "
    "set the original key, or reconnect Xero and enter the secrets again"
)


def derive_fernet_key(secret_key: str) -> bytes:
    """The urlsafe-base64 Fernet key for a user's ATX_SECRET_KEY."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=HKDF_SALT, info=HKDF_INFO).derive(
        secret_key.encode("utf-8")
    )
    return base64.urlsafe_b64encode(raw)


class SecretBox:
    """Seals secrets for storage and opens them again. Never includes a secret in an error."""

    def __init__(self, secret_key: str | None, *, allow_plaintext: bool = False) -> None:
        self._fernet = Fernet(derive_fernet_key(secret_key)) if secret_key else None
        self.allow_plaintext = allow_plaintext

    @property
    def encrypts(self) -> bool:
        return self._fernet is not None

    def seal(self, plaintext: str) -> str:
        if self._fernet is not None:
            return _ENCRYPTED + self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")
        if self.allow_plaintext:
            return _PLAIN + plaintext
        raise SecretKeyMissing(MISSING_KEY_TO_STORE)

    def open(self, stored: str) -> str:
        if stored.startswith(_PLAIN):
            return stored[len(_PLAIN) :]
        if not stored.startswith(_ENCRYPTED):
            raise SecretKeyMismatch("a stored secret is in an unknown format")
        if self._fernet is None:
            raise SecretKeyMissing(MISSING_KEY_TO_READ)
        try:
            return self._fernet.decrypt(stored[len(_ENCRYPTED) :].encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise SecretKeyMismatch(WRONG_KEY) from None

    def seal_or_none(self, plaintext: str | None) -> str | None:
        return None if plaintext is None else self.seal(plaintext)

    def open_or_none(self, stored: str | None) -> str | None:
        return None if stored is None else self.open(stored)

    def __repr__(self) -> str:
        return f"SecretBox(encrypts={self.encrypts}, allow_plaintext={self.allow_plaintext})"
