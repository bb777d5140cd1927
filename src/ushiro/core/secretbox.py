"""Secrets at rest (mail passwords) encrypted with a key derived from the instance key.

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with a key derived by HKDF from
``Settings.resolved_secret_key()``, so the database and its backups never hold the secret
in plain text; reading it needs the instance key, which lives outside the database
(``USHIRO_SECRET_KEY`` or ``<data>/secret.key``). Stored values carry the prefix
``fernet:``; a value without it is a plain-text value stored before encryption existed.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "fernet:"


class UnreadableSecret(ValueError):
    """The value was encrypted under another instance key (or is damaged)."""


def _fernet(instance_key: str, purpose: str) -> Fernet:
    # One derived key per purpose: the cookie-signing key is never used to encrypt as is.
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=f"ushiro secretbox {purpose}".encode()).derive(instance_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(instance_key: str, purpose: str, plain: str) -> str:
    if not plain:
        return ""
    token = _fernet(instance_key, purpose).encrypt(plain.encode("utf-8"))
    return PREFIX + token.decode("ascii")


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def open_sealed(instance_key: str, purpose: str, stored: str) -> str:
    """The plain value; a legacy plain-text value is returned as it is."""
    if not is_sealed(stored):
        return stored
    try:
        return _fernet(instance_key, purpose).decrypt(stored[len(PREFIX):].encode("ascii")
                                                      ).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError) as exc:
        raise UnreadableSecret(purpose) from exc
