"""Per-client request rates: one implementation for the API and the pages.

The API's throttles (api/throttling.py) and the pages that cost the most to abuse — register,
book and move — count in the same cache keys under the same rates: settings.THROTTLE_RATES
(`API_THROTTLE_ANON` per client address for visitors, `API_THROTTLE_USER` per applicant or
staff user), read per request, all off with `RATE_LIMITS=off`. A client that registers on the
page and then on the API spends one budget.

The client address is DRF's (`BaseThrottle.get_ident`): REMOTE_ADDR, or, when
`API_NUM_PROXIES` proxies stand in front, the client's address from the X-Forwarded-For they
append. It reads only `request.META`, so it works on a Django request as on a DRF one. A
forwarded-for header is never trusted while API_NUM_PROXIES is 0 (the default), in the same
spirit as X-Forwarded-Proto, which is trusted only with DJANGO_PROXY_SETS_FORWARDED_PROTO.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import throttling

from rto_booking.signin_limits import limits_on

ANON = "anon"
USER = "user"


def rate_for(scope: str) -> str | None:
    return getattr(settings, "THROTTLE_RATES", {}).get(scope)


def client_address(request) -> str:
    """The client's address as every limit of the product counts it (see the module doc)."""
    return throttling.BaseThrottle().get_ident(request)


def applicant_ident(applicant_id: int) -> str:
    """The `user` scope's key part of an applicant (staff users are `staff:<pk>`)."""
    return f"applicant:{applicant_id}"


class SettingsRateMixin:
    """A DRF rate throttle whose rate is read from settings.THROTTLE_RATES per request (tests
    and operators change it without a restart), and which RATE_LIMITS=off switches off."""

    scope: str

    def get_rate(self):
        return rate_for(self.scope)

    def allow_request(self, request, view):
        if not limits_on():
            return True
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class ClientRate(SettingsRateMixin, throttling.SimpleRateThrottle):
    """One client's budget in one scope, for callers that know the client themselves (the
    pages): `anon` with the client address, `user` with `applicant_ident`."""

    def __init__(self, *, scope: str, ident: str):  # the rate is read per request
        self.scope = scope
        self.ident = ident

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.ident}


def client_rate_wait(*, request, scope: str, ident: str) -> float | None:
    """Count one request of this client; the seconds to wait when it is over its rate (the
    request is then not to be served), or None."""
    throttle = ClientRate(scope=scope, ident=ident)
    if throttle.allow_request(request, None):
        return None
    return max(1.0, throttle.wait() or 1.0)
