"""How a mobile number is shown to its owner (pages and API). Whether a booking needs it
verified is a booking rule: slots.rules.mobile_verification_required."""

from __future__ import annotations


def mobile_masked(mobile: str) -> str:
    """+919812345612 -> "+91 98xxxxxx12": enough for the owner to know the number."""
    digits = (mobile or "").removeprefix("+91")
    if len(digits) != 10:
        return "x" * len(digits)
    return f"+91 {digits[:2]}xxxxxx{digits[-2:]}"
