"""The one policy for failed sign-ins, for the sign-in page and the API's sign-in endpoint.

Failures only: an applicant who types the right pair is never slowed down, while guessing dates
of birth for one application number (or trying many numbers from one address) stops early.
The limits are settings (SIGNIN_FAILURES_PER_NUMBER, SIGNIN_FAILURES_PER_ADDRESS,
SIGNIN_FAILURE_WINDOW_SECONDS); page and API share one count. Fixed windows counted in Django's
cache (Redis in production, failing open when it is away).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


def limits_on() -> bool:
    return getattr(settings, "RATE_LIMITS", "on") != "off"


def hashed_number(application_number: str) -> str:
    """The number as a cache key part: the raw input may hold anything; keys must be clean."""
    number = (application_number or "").strip()
    return hashlib.sha256(number.encode("utf-8", "replace")).hexdigest()[:32] if number else ""


@dataclass(frozen=True)
class FailureLimit:
    key_prefix: str  # e.g. "signin-page:number"
    ident: str  # a hashed number or a client address; empty: not counted
    limit: int
    period: int  # seconds

    def key(self, now: float) -> str:
        return f"{self.key_prefix}:{self.ident}:{int(now // self.period)}"


class SignInFailureCounter:
    def __init__(self, limits: list[FailureLimit]):
        self.limits = [limit for limit in limits if limit.ident]

    def retry_after(self) -> float | None:
        """Seconds until the sign-in may be tried again, or None while under every limit."""
        if not limits_on() or not self.limits:
            return None
        now = time.time()
        counts = cache.get_many([limit.key(now) for limit in self.limits])
        waits = [
            limit.period - (now % limit.period)
            for limit in self.limits
            if counts.get(limit.key(now), 0) >= limit.limit
        ]
        return max(waits) if waits else None

    def record_failure(self) -> None:
        if not limits_on():
            return
        now = time.time()
        for limit in self.limits:
            key = limit.key(now)
            cache.add(key, 0, timeout=limit.period + 1)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=limit.period + 1)


def signin_failures(*, application_number: str, client_address: str) -> SignInFailureCounter:
    """The failure counters of one sign-in attempt, under the settings' policy."""
    window = settings.SIGNIN_FAILURE_WINDOW_SECONDS
    return SignInFailureCounter(
        [
            FailureLimit(
                "signin:number",
                hashed_number(application_number),
                settings.SIGNIN_FAILURES_PER_NUMBER,
                window,
            ),
            FailureLimit(
                "signin:address", client_address or "", settings.SIGNIN_FAILURES_PER_ADDRESS, window
            ),
        ]
    )
