"""The mobile-verification policy as plain reads, imported by the booking rules as well as the
applicant pages and the API (no model or app imports here: nothing can import in a circle)."""

from __future__ import annotations

from django.conf import settings


def mobile_verification_on() -> bool:
    return getattr(settings, "MOBILE_VERIFICATION", "on") != "off"


def mobile_verification_required(*, applicant) -> bool:
    """The applicant must enter the code sent to their mobile before booking."""
    return mobile_verification_on() and applicant.mobile_verified_at is None


def mobile_masked(mobile: str) -> str:
    """+919812345612 -> "+91 98xxxxxx12": enough for the owner to know the number."""
    digits = (mobile or "").removeprefix("+91")
    if len(digits) != 10:
        return "x" * len(digits)
    return f"+91 {digits[:2]}xxxxxx{digits[-2:]}"
