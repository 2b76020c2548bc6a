"""The one policy for failed sign-ins, for the sign-in page and the API's sign-in endpoint.

Failures only: an applicant who types the right pair is never slowed down, while guessing dates
of birth for one application number stops early and ever more slowly:

- per application number, **escalating** (SIGNIN_LOCKOUT_STEPS, default 5 → 15 min,
  10 → 1 h, 20 → 24 h): from the first step on, every further failure locks the number for
  the step it has reached; failures are remembered SIGNIN_FAILURE_MEMORY_SECONDS after the
  last one. A date of birth has ~36,500 values: at one guess a day after twenty, guessing
  does not pay.
- per client address, a much higher ceiling (SIGNIN_FAILURES_PER_ADDRESS in
  SIGNIN_FAILURE_WINDOW_SECONDS): it stops one address sweeping many numbers, while the
  people behind one kiosk or NAT, each with a typo or two on their own number, are not
  locked out by one another.

When a number's failures first reach a step (and each further step, once per step while they
are remembered), `record_failure` says so; the caller tells the number's owner by SMS
(applicants.services.applicant_signin_failed), whoever is guessing.

Page and API share one count. Counted in Django's cache (Redis in production, failing open
when it is away).
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


def lockout_seconds(failures: int, steps: list[tuple[int, int]]) -> int:
    """How long `failures` failures lock a number: the step of the highest threshold reached."""
    seconds = 0
    for threshold, lock in sorted(steps):
        if failures >= threshold:
            seconds = lock
    return seconds


class NumberLockout:
    """Escalating lockout of one application number (see the module doc), or of one admin
    user name (`prefix`)."""

    def __init__(self, ident: str, prefix: str = "signin:number"):
        self.ident = ident
        self.prefix = prefix

    def _keys(self) -> tuple[str, str]:
        return f"{self.prefix}:{self.ident}:failures", f"{self.prefix}:{self.ident}:until"

    def retry_after(self, now: float) -> float | None:
        if not self.ident:
            return None
        until = cache.get(self._keys()[1])
        return until - now if until and until > now else None

    def record_failure(self, now: float) -> int | None:
        """Count a failure; the step (1 for the first of SIGNIN_LOCKOUT_STEPS) when this
        failure is the first to reach it within the failures' memory, else None — the moment
        to tell the number's owner (applicants.services.applicant_signin_failed)."""
        if not self.ident:
            return None
        count_key, until_key = self._keys()
        memory = settings.SIGNIN_FAILURE_MEMORY_SECONDS
        cache.add(count_key, 0, timeout=memory)
        try:
            failures = cache.incr(count_key)
        except ValueError:  # expired between add and incr
            cache.set(count_key, 1, timeout=memory)
            failures = 1
        if failures is None:
            return None  # the cache is away (django-redis IGNORE_EXCEPTIONS): fail open
        cache.touch(count_key, memory)  # remembered from the last failure on
        lock = lockout_seconds(failures, settings.SIGNIN_LOCKOUT_STEPS)
        if not lock:
            return None
        cache.set(until_key, now + lock, timeout=lock + 1)
        step = sum(1 for threshold, _ in settings.SIGNIN_LOCKOUT_STEPS if failures >= threshold)
        # At most once per step while the failures are remembered: `add` sets the marker only
        # if it is not there, atomically, so two failures at once cannot both claim the step.
        if cache.add(f"{self.prefix}:{self.ident}:step{step}", 1, timeout=memory):
            return step
        return None


class SignInPolicy:
    """The failure counters of one sign-in attempt: the number's lockout and the address's
    ceiling."""

    def __init__(self, *, number: NumberLockout, address: SignInFailureCounter):
        self.number = number
        self.address = address

    def retry_after(self) -> float | None:
        """Seconds until the sign-in may be tried again, or None while it may be now."""
        if not limits_on():
            return None
        waits = [self.number.retry_after(time.time()), self.address.retry_after()]
        waits = [wait for wait in waits if wait is not None]
        return max(waits) if waits else None

    def record_failure(self) -> int | None:
        """Count a failure; the lockout step the number newly reached (see NumberLockout)."""
        if not limits_on():
            return None
        step = self.number.record_failure(time.time())
        self.address.record_failure()
        return step


def signin_failures(*, application_number: str, client_address: str) -> SignInPolicy:
    """The failure counters of one sign-in attempt, under the settings' policy."""
    return SignInPolicy(
        number=NumberLockout(hashed_number(application_number)),
        address=SignInFailureCounter(
            [
                FailureLimit(
                    "signin:address",
                    client_address or "",
                    settings.SIGNIN_FAILURES_PER_ADDRESS,
                    settings.SIGNIN_FAILURE_WINDOW_SECONDS,
                )
            ]
        ),
    )


def recovery_requests(*, mobile: str, client_address: str) -> SignInFailureCounter:
    """The counters of "forgot application number": per (normalised) mobile and per client
    address. Unlike sign-in, every request is recorded, a match or not: counting only matches
    would tell an asker which details are registered."""
    return SignInFailureCounter(
        [
            FailureLimit(
                "recover:mobile",
                hashed_number(mobile),
                settings.RECOVER_PER_MOBILE,
                settings.RECOVER_WINDOW_SECONDS,
            ),
            FailureLimit(
                "recover:address",
                client_address or "",
                settings.RECOVER_PER_ADDRESS,
                settings.RECOVER_WINDOW_SECONDS,
            ),
        ]
    )
