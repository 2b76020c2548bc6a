"""System checks for a production deployment (`python manage.py check --deploy`).

Each names the environment variable that fixes it, so the message is the instruction.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}  # noqa: S104 (names, not a bind)


@register(Tags.security, deploy=True)
def site_url_check(app_configs=None, **kwargs):
    """Every SMS and e-mail links to SITE_URL: without it, or pointing at this machine,
    applicants get links they cannot open."""
    if not settings.SITE_URL:
        return [
            Error(
                "SITE_URL is not set, so the links in every SMS and e-mail would be broken.",
                hint="Set the environment variable SITE_URL to the address applicants use, "
                "e.g. https://booking.rto.example.in.",
                id="rto.E001",
            )
        ]
    host = urlsplit(settings.SITE_URL).hostname or ""
    if not settings.DEBUG and host in LOCAL_HOSTS:
        return [
            Warning(
                f"SITE_URL is {settings.SITE_URL}: links in SMS and e-mail would point at the "
                "server itself, which applicants cannot reach.",
                hint="Set the environment variable SITE_URL to the public address.",
                id="rto.W001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def metrics_token_check(app_configs=None, **kwargs):
    """/metrics tells anyone how many bookings and outages there are, and where it fails."""
    if settings.METRICS_TOKEN or settings.METRICS_PUBLIC:
        return []
    return [
        Error(
            "METRICS_TOKEN is not set, so /metrics answers 403 and Prometheus cannot scrape.",
            hint="Set the environment variable METRICS_TOKEN to a long random value and give "
            "Prometheus the same as its bearer token (METRICS_PUBLIC=true makes /metrics "
            "public instead, for a closed network only).",
            id="rto.E002",
        )
    ]


@register(Tags.security, deploy=True)
def metrics_public_check(app_configs=None, **kwargs):
    if settings.METRICS_PUBLIC and not settings.METRICS_TOKEN and not settings.DEBUG:
        return [
            Warning(
                "METRICS_PUBLIC is on without METRICS_TOKEN: anyone can read /metrics.",
                hint="Set the environment variable METRICS_TOKEN instead.",
                id="rto.W002",
            )
        ]
    return []
