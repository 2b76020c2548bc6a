"""Operations middleware: health endpoints, request ids, CSP, and "database unavailable".

Order in settings.MIDDLEWARE (outermost first):

1. `OpsEndpointsMiddleware` answers /healthz, /readyz and /metrics before anything else: no
   host check (Docker and Prometheus call with container addresses), no SSL redirect, no
   session, no request log.
2. `RequestIdMiddleware` sets the request id (rto_booking.logging), returns it in X-Request-ID,
   counts the request for /metrics and writes one access-log line.
3. Django's SecurityMiddleware, then django-csp's CSPMiddleware as shipped (the 500 page's
   relaxation is the decorator on `server_error` below).
4. ... Django's own: sessions, locale, common, CSRF, authentication, messages, clickjacking.
   Last `DatabaseUnavailableMiddleware`, which turns a
   lost database (`OperationalError`/`InterfaceError` reaching a view) into 503: the API's
   error shape {"code": "database_unavailable" | "busy", "detail"} under /api/, a small
   bilingual page elsewhere. `server_error` (handler500) does the same for errors raised
   outside views.
"""

from __future__ import annotations

import logging
import sys
import time

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control
from django.utils.html import escape
from django.utils.translation import gettext
from django.views import defaults

from rto_booking import health, metrics
from rto_booking.db import is_lock_timeout
from rto_booking.logging import REQUEST_ID_HEADER, request_id_from_header, request_id_var

access_logger = logging.getLogger("rto.request")
logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
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


# --- Personal answers are not cached -----------------------------------------------------------


class PersonalNoStoreMiddleware:
    """Every API answer to a request with credentials (an applicant's bookings, a clerk's
    lists) gets `Cache-Control: private, no-store`: no proxy or shared cache keeps it. The
    applicant pages do the same in `applicants.views.applicant_required`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith("/api/") and request.META.get("HTTP_AUTHORIZATION"):
            patch_cache_control(response, private=True, no_store=True)
        return response


# --- Input no view can use --------------------------------------------------------------------


def _has_nul(request) -> bool:
    if "\x00" in request.path_info:
        return True
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in request.GET.lists()
    )


class BadInputMiddleware:
    """A NUL byte in the path or the query string is answered 400 here, before any view: no
    PostgreSQL text can hold one (psycopg raises DataError, a 500), and no real link has one.
    Under /api/ the answer has the API's error shape; elsewhere it is the bilingual 400 page
    (the language is known: this runs after LocaleMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _has_nul(request):
            return bad_request_response(request)
        return self.get_response(request)


def bad_request_response(request) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        detail = gettext("The request could not be understood.")
        return JsonResponse(
            {"code": "invalid", "detail": detail, "fields": {"non_field_errors": [detail]}},
            status=400,
        )
    return HttpResponse(render_to_string("400.html", request=request), status=400)


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


def database_unavailable_response(request, error: Exception) -> HttpResponse:
    busy = is_lock_timeout(error)
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


# templates/500.html is self-contained on purpose (a <style> block, rendered without the
# request, so without a nonce) and holds no user input: it may use inline styles, no scripts.
@csp_replace({"style-src": [SELF, UNSAFE_INLINE]})
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
