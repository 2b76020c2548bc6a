"""Rate limits, counted in Django's cache (Redis in production and tests).

Rates come from settings.THROTTLE_RATES (env, see rto_booking/settings.py "REST API") and are
read per request, as is RATE_LIMITS: `RATE_LIMITS=off` turns every limit here off.

Sign-in is limited on failures, not attempts: an applicant who signs in correctly is never
locked out, while guessing dates of birth for one application number (or many numbers from one
address) stops after a few tries.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions, throttling

from api.authentication import is_applicant


def limits_on() -> bool:
    return getattr(settings, "RATE_LIMITS", "on") != "off"


def _rate(scope: str) -> str | None:
    return getattr(settings, "THROTTLE_RATES", {}).get(scope)


def parse_rate(rate: str) -> tuple[int, int]:
    """ "5/min" -> (5, 60): DRF's rate syntax (s, m, h, d by first letter)."""
    number, period = rate.split("/")
    return int(number), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period.strip()[0]]


class _SettingsRateMixin:
    def get_rate(self):
        return _rate(self.scope)

    def allow_request(self, request, view):
        if not limits_on():
            return True
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class AnonThrottle(_SettingsRateMixin, throttling.AnonRateThrottle):
    scope = "anon"

    def __init__(self):  # the rate is read per request, see _SettingsRateMixin
        pass

    def get_cache_key(self, request, view):
        if request.user is not None:
            return None  # UserThrottle counts these
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UserThrottle(_SettingsRateMixin, throttling.UserRateThrottle):
    """Per applicant or per staff user, in separate key spaces."""

    scope = "user"

    def __init__(self):
        pass

    def get_cache_key(self, request, view):
        user = request.user
        if user is None:
            return None  # AnonThrottle counts these
        kind = "applicant" if is_applicant(user) else "staff"
        return self.cache_format % {"scope": self.scope, "ident": f"{kind}:{user.pk}"}


class SignInFailures:
    """Fixed-window failure counters per application number and per client address."""

    def __init__(self, *, request, application_number: str):
        # Hashed: the raw input may hold anything, and the key must be short and encodable.
        number = (application_number or "").strip()
        self.number = (
            hashlib.sha256(number.encode("utf-8", "replace")).hexdigest()[:32] if number else ""
        )
        self.address = throttling.BaseThrottle().get_ident(request)

    def _keys(self) -> list[tuple[str, int, int]]:
        keys = []
        for scope, ident in (("signin_number", self.number), ("signin_address", self.address)):
            rate = _rate(scope)
            if not rate or not ident:
                continue
            limit, period = parse_rate(rate)
            window = int(time.time() // period)
            keys.append((f"throttle:{scope}:{ident}:{window}", limit, period))
        return keys

    def check(self) -> None:
        """Raise Throttled while either counter is at its limit."""
        if not limits_on():
            return
        keys = self._keys()
        counts = cache.get_many([key for key, _limit, _period in keys])
        for key, limit, period in keys:
            if counts.get(key, 0) >= limit:
                wait = period - (time.time() % period)
                raise exceptions.Throttled(wait=wait)

    def record(self) -> None:
        if not limits_on():
            return
        for key, _limit, period in self._keys():
            cache.add(key, 0, timeout=period + 1)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=period + 1)
