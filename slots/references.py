"""Booking references: what an applicant reads out at the counter and types into the site."""

from __future__ import annotations

import secrets

# 32 symbols without look-alikes (no 0/O, 1/I/L): 10 characters carry 50 random bits.
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERENCE_LENGTH = 10


def booking_reference_new() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
