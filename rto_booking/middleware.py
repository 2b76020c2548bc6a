"""Operations middleware: health endpoints, request ids, CSP, and "database unavailable".

Order in settings.MIDDLEWARE (outermost first):

1. `OpsEndpointsMiddleware` answers /healthz, /readyz and /metrics before anything else: no
   host check (Docker and Prometheus call with container addresses), no SSL redirect, no
   session, no request log.
2. `RequestIdMiddleware` sets the request id (rto_booking.logging), returns it in X-Request-ID,
   counts the request for /metrics and writes one access-log line.
3. Django's SecurityMiddleware, then `ContentSecurityPolicyMiddleware` (django-csp's, with the
   policy of settings built once per process).
4. ... the rest: Django's sessions, session user and messages as `_BrowserOnly`
   subclasses that the JSON API skips. Last `DatabaseUnavailableMiddleware`, which turns a
   lost database (`OperationalError`/`InterfaceError` reaching a view) into 503: the API's
   error shape {"code": "database_unavailable" | "busy", "detail"} under /api/, a small
   bilingual page elsewhere. `server_error` (handler500) does the same for errors raised
   outside views.
"""

from __future__ import annotations

import functools
import logging
import sys
import time

from csp.constants import HEADER, HEADER_REPORT_ONLY, SELF, UNSAFE_INLINE
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware
from django.core.signals import setting_changed
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape
from django.views import defaults

from rto_booking import health, metrics
from rto_booking.logging import REQUEST_ID_HEADER, request_id_from_header, request_id_var

access_logger = logging.getLogger("rto.request")
logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
# SQLSTATEs that mean "the database is up but this statement waited too long": lock_not_available
# and query_canceled (statement_timeout). Everything else means it is not reachable.
_BUSY_SQLSTATES = {"55P03", "57014"}
RETRY_AFTER_SECONDS = 10


class OpsEndpointsMiddleware:
    views = {"/healthz": health.healthz, "/readyz": health.readyz, "/metrics": metrics.metrics_view}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = self.views.get(request.path_info.rstrip("/"))
        if view is not None and request.method in {"GET", "HEAD"}:
            return view(request)
        return self.get_response(request)


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from_header(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            elapsed = time.monotonic() - started
            match = getattr(request, "resolver_match", None)
            route = (match.view_name if match else None) or "unmatched"
            metrics.HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
            metrics.HTTP_DURATION.labels(route).observe(elapsed)
            if settings.REQUEST_LOG:
                access_logger.info(
                    "%s %s %s %.0f ms",
                    request.method,
                    request.path,
                    response.status_code,
                    elapsed * 1000,
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "duration_ms": round(elapsed * 1000, 1),
                        "route": route,
                    },
                )
            return response
        finally:
            request_id_var.reset(token)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with inline scripts and styles allowed on two kinds of page.

    * URL prefixes in CSP_ALLOW_INLINE_PREFIXES (the clerks' admin and the Swagger UI page
      still carry inline <script>, <style>, style= and on...= attributes; see
      docs/OPERATIONS.md, "Content Security Policy"): a stop-gap until those templates use
      nonces and static files. With no nonce in the header, 'unsafe-inline' takes effect.
    * 500 pages, inline styles only: templates/500.html is self-contained on purpose (a <style>
      block, rendered without the request, so without a nonce) and holds no user input.
    """

    RELAXED = {"script-src": [SELF, UNSAFE_INLINE], "style-src": [SELF, UNSAFE_INLINE]}

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if parts.replace is not None or parts.config is not None:
            return parts  # a view chose its own policy
        if _inline_allowed(request):
            parts.replace = dict(self.RELAXED)
            parts.nonce = None
        elif response.status_code == 500:
            parts.replace = {"style-src": self.RELAXED["style-src"]}
            parts.nonce = None
        return parts

    # django-csp builds both headers (enforced and report-only) anew for every response, though
    # nearly every response (every API answer, every page without an inline script) carries
    # exactly the policy of settings: about a fortieth of a booking request's CPU. Such
    # responses get the headers built once per process; anything else takes django-csp's path.
    _RESPONSE_PARTS = (
        "_csp_config",
        "_csp_update",
        "_csp_replace",
        "_csp_exempt",
        "_csp_config_ro",
        "_csp_update_ro",
        "_csp_replace_ro",
        "_csp_exempt_ro",
    )

    def process_response(self, request, response):
        headers = settings_policy_headers()
        if (
            headers is None
            or response.status_code in (404, 500)  # DEBUG pages and the 500 relaxation
            or getattr(request, "_csp_nonce", None) is not None  # the page used its nonce
            or any(getattr(response, name, None) is not None for name in self._RESPONSE_PARTS)
            or any(header in response for header in (HEADER, HEADER_REPORT_ONLY))
            or _inline_allowed(request)
        ):
            return super().process_response(request, response)
        for header, value in headers.items():
            response[header] = value
        # As django-csp does: a nonce asked for after the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response


def _inline_allowed(request) -> bool:
    return request.path_info.startswith(tuple(settings.CSP_ALLOW_INLINE_PREFIXES))


@functools.cache
def settings_policy_headers() -> dict[str, str] | None:
    """The CSP headers of a response for which nothing changes the policy of settings, or None
    when settings exclude URL prefixes (that case stays with django-csp)."""
    policies = (
        getattr(settings, "CONTENT_SECURITY_POLICY", None) or {},
        getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None) or {},
    )
    if any(policy.get("EXCLUDE_URL_PREFIXES") for policy in policies):
        return None
    headers = {HEADER: build_policy(), HEADER_REPORT_ONLY: build_policy(report_only=True)}
    return {header: value for header, value in headers.items() if value}


@receiver(setting_changed)
def _policy_settings_changed(*, setting, **kwargs):
    if setting.startswith(("CONTENT_SECURITY_POLICY", "CSP_")):
        settings_policy_headers.cache_clear()


# --- Middleware the JSON API does not use ---------------------------------------------------------

API_PREFIX = "/api/v1/"


class _BrowserOnly:
    """Runs a middleware for every path but the JSON API under /api/v1/, which has no use for
    it: its views are DRF views, authenticated by token, that read no session, no session user
    and no messages. Pages, the admin and the API docs (/api/docs/) run them as before.
    Subclasses of Django's own classes, so Django's checks still recognise them. (CSRF stays
    Django's own for every path: `check --deploy` asks for it by name, and for the API's
    CSRF-exempt views it does next to nothing.)"""

    def __call__(self, request):
        if request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_BrowserOnly, sessions_middleware.SessionMiddleware):
    pass


class AuthenticationMiddleware(_BrowserOnly, auth_middleware.AuthenticationMiddleware):
    pass


class MessageMiddleware(_BrowserOnly, messages_middleware.MessageMiddleware):
    pass


# --- The database is unavailable -----------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Please try again in a few minutes · कृपया कुछ मिनट बाद फिर कोशिश करें</title>
<style{nonce}>
body {{ margin: 0; font: 17px/1.5 system-ui, "Noto Sans", "Noto Sans Devanagari", sans-serif;
  color: #1b1f24; background: #f6f7f9; }}
header {{ background: #0b4f9c; color: #fff; padding: 12px 16px; font-weight: 700; }}
main {{ max-width: 48rem; margin: 0 auto; padding: 16px; }}
a {{ color: #0b4f9c; }}
</style>
</head>
<body>
<header>RTO Slot Booking · आरटीओ स्लॉट बुकिंग</header>
<main>
<h1>Please try again in a few minutes</h1>
<p>The booking system is briefly unavailable. Your bookings are safe; nothing you booked has
been lost. Please reload this page in a few minutes.</p>
<h1 lang="hi">कृपया कुछ मिनट बाद फिर कोशिश करें</h1>
<p lang="hi">बुकिंग सिस्टम कुछ समय के लिए उपलब्ध नहीं है। आपकी बुकिंग सुरक्षित है। कृपया कुछ मिनट
बाद यह पेज फिर से खोलें।</p>
<p><a href="/">Home · होम</a></p>
</main>
</body>
</html>
"""


def _is_busy(error: Exception) -> bool:
    cause = error.__cause__
    return getattr(cause, "sqlstate", None) in _BUSY_SQLSTATES


def database_unavailable_response(request, error: Exception) -> HttpResponse:
    busy = _is_busy(error)
    logger.error(
        "Database %s: %s: %s",
        "busy" if busy else "unavailable",
        type(error).__name__,
        str(error).strip()[:300],
    )
    if request.path_info.startswith("/api/"):
        if busy:
            body = {"code": "busy", "detail": "The system is busy. Please try again in a moment."}
        else:
            body = {
                "code": "database_unavailable",
                "detail": "The booking system is briefly unavailable. Please try again shortly.",
            }
        response = JsonResponse(body, status=503)
    else:
        # request.csp_nonce is lazy (and falsy until read): reading it puts it in the header.
        nonce = str(request.csp_nonce) if hasattr(request, "csp_nonce") else ""
        nonce_attr = f' nonce="{escape(nonce)}"' if nonce else ""
        response = HttpResponse(_PAGE.format(nonce=nonce_attr), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_ERRORS):
            return database_unavailable_response(request, exception)
        return None


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    """handler500: a lost database raised outside a view (a middleware, a session save) gets
    the same 503 as inside one; every other error gets Django's 500 page (templates/500.html),
    and under /api/ the API's error shape."""
    error = sys.exc_info()[1]
    if isinstance(error, DATABASE_ERRORS):
        return database_unavailable_response(request, error)
    if request.path_info.startswith("/api/"):
        return JsonResponse(
            {
                "code": "server_error",
                "detail": "Something went wrong on our side. Please try again.",
            },
            status=500,
        )
    return defaults.server_error(request, template_name)
