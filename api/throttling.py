"""Rate limits, counted in Django's cache (Redis in production and tests).

Rates come from settings.THROTTLE_RATES (env, see rto_booking/settings.py "REST API") and are
read per request, as is RATE_LIMITS: `RATE_LIMITS=off` turns every limit here off.

Sign-in is limited on failures, not attempts, by the one policy of rto_booking.signin_limits
(shared with the sign-in page).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions, throttling

from api.authentication import is_applicant
from rto_booking.signin_limits import limits_on, signin_failures


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
    """The API's view of the one sign-in failure policy (rto_booking.signin_limits): the client
    address as DRF sees it (API_NUM_PROXIES), a 429 with Retry-After at the limit."""

    def __init__(self, *, request, application_number: str):
        self.counter = signin_failures(
            application_number=application_number,
            client_address=throttling.BaseThrottle().get_ident(request),
        )

    def check(self) -> None:
        """Raise Throttled while either counter is at its limit."""
        wait = self.counter.retry_after()
        if wait is not None:
            raise exceptions.Throttled(wait=wait)

    def record(self) -> None:
        self.counter.record_failure()
