"""A short secret (a one-time code) kept in an outbox row's JSON context without being plain.

The outbox must carry the code until the dispatcher sends it (the row is durable; the web
request that made the code is long gone), but a database dump or the admin's context field must
not show it. `seal` XORs the text with a keystream that is an HMAC (Django's `salted_hmac`,
keyed by SECRET_KEY) of a random nonce: a fresh pad per value, readable only with the secret
key. It protects codes that live minutes; it is not a general-purpose cipher (texts of at most
32 bytes, no integrity tag: a tampered value just unseals to a wrong code).
"""

from __future__ import annotations

import secrets

from django.utils.crypto import salted_hmac

_SALT = "rto_booking.notifications.sealing"
MAX_BYTES = 32  # one SHA-256 block of keystream


def _pad(nonce: str) -> bytes:
    return salted_hmac(_SALT, nonce, algorithm="sha256").digest()


def seal(text: str) -> str:
    data = text.encode("utf-8")
    if len(data) > MAX_BYTES:
        raise ValueError("seal() keeps short secrets only")
    nonce = secrets.token_hex(8)
    sealed = bytes(a ^ b for a, b in zip(data, _pad(nonce), strict=False))
    return f"{nonce}:{sealed.hex()}"


def unseal(value: str) -> str:
    """The sealed text; empty for a missing or malformed value."""
    nonce, _, hexed = (value or "").partition(":")
    try:
        data = bytes.fromhex(hexed)
    except ValueError:
        return ""
    if not nonce or len(data) > MAX_BYTES:
        return ""
    return bytes(a ^ b for a, b in zip(data, _pad(nonce), strict=False)).decode("utf-8", "replace")
