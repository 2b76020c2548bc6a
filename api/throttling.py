"""Rate limits, counted in Django's cache (Redis in production and tests).

Rates come from settings.THROTTLE_RATES (env, see rto_booking/settings.py "REST API") and are
read per request, as is RATE_LIMITS: `RATE_LIMITS=off` turns every limit here off. The rate
logic and the client address are rto_booking.rate_limits', shared with the pages.

Sign-in is limited on failures, not attempts, by the one policy of rto_booking.signin_limits
(shared with the sign-in page).
"""

from __future__ import annotations

from rest_framework import exceptions, throttling

from api.authentication import is_applicant
from applicants.services import applicant_signin_failed
from rto_booking.rate_limits import (
    ANON,
    USER,
    SettingsRateMixin,
    applicant_ident,
    client_address,
)
from rto_booking.signin_limits import recovery_requests, signin_failures


class AnonThrottle(SettingsRateMixin, throttling.AnonRateThrottle):
    scope = ANON

    def __init__(self):  # the rate is read per request, see SettingsRateMixin
        pass

    def get_cache_key(self, request, view):
        if request.user is not None:
            return None  # UserThrottle counts these
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


class UserThrottle(SettingsRateMixin, throttling.UserRateThrottle):
    """Per applicant or per staff user, in separate key spaces."""

    scope = USER

    def __init__(self):
        pass

    def get_cache_key(self, request, view):
        user = request.user
        if user is None:
            return None  # AnonThrottle counts these
        ident = applicant_ident(user.pk) if is_applicant(user) else f"staff:{user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class SignInFailures:
    """The API's view of the one sign-in failure policy (rto_booking.signin_limits): the client
    address as DRF sees it (API_NUM_PROXIES), a 429 with Retry-After at the limit."""

    def __init__(self, *, request, application_number: str):
        self.application_number = application_number
        self.counter = signin_failures(
            application_number=application_number,
            client_address=client_address(request),
        )

    def check(self) -> None:
        """Raise Throttled while either counter is at its limit."""
        wait = self.counter.retry_after()
        if wait is not None:
            raise exceptions.Throttled(wait=wait)

    def record(self) -> None:
        """Count the failure; its applicant is told by SMS when the lockout reaches a step."""
        applicant_signin_failed(failures=self.counter, application_number=self.application_number)


class RecoveryRequests:
    """The API's view of the "forgot application number" counters (per mobile and per client
    address, rto_booking.signin_limits.recovery_requests): a 429 with Retry-After at the
    limit."""

    def __init__(self, *, request, mobile: str):
        self.counter = recovery_requests(mobile=mobile, client_address=client_address(request))

    def check(self) -> None:
        wait = self.counter.retry_after()
        if wait is not None:
            raise exceptions.Throttled(wait=wait)

    def record(self) -> None:
        self.counter.record_failure()
