"""A short secret (a one-time code) kept in an outbox row's JSON context without being plain.

The outbox must carry the code until the dispatcher sends it (the row is durable; the web
request that made the code is long gone), but a database dump or the admin's context field must
not show it. The value is encrypted and authenticated with Fernet (the `cryptography` library:
AES-128-CBC with an HMAC-SHA256 tag), under a key derived from SECRET_KEY; a value sealed under
another key, or tampered with, unseals to nothing.
"""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.utils.crypto import salted_hmac

_SALT = "rto_booking.notifications.sealing"


@cache
def _fernet(secret_key: str) -> Fernet:
    key = salted_hmac(_SALT, "fernet-key", secret=secret_key, algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(text: str) -> str:
    return _fernet(settings.SECRET_KEY).encrypt(text.encode("utf-8")).decode("ascii")


def unseal(value: str) -> str:
    """The sealed text; empty for a missing, tampered or foreign value."""
    if not value:
        return ""
    try:
        return _fernet(settings.SECRET_KEY).decrypt(value.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        return ""
