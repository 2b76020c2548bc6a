"""Costs and leaks: a bounded public outage list, no caching of personal answers, /metrics
behind a token, the forwarded-proto header trusted only when a proxy sets it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from slots.models import Outage
from slots.services.bookings import booking_create
from tests.applicants.conftest import sign_in

pytestmark = pytest.mark.django_db


def _outages(office, n):
    now = timezone.now()
    return Outage.objects.bulk_create(
        Outage(
            starts_at=now - timedelta(days=i + 1),
            expected_end=now - timedelta(days=i),
            resolved_at=now,
            reason=f"o{i}",
        )
        for i in range(n)
    )


def test_outage_list_holds_at_most_100_and_pages_with_before(api, bhopal):
    made = _outages(bhopal, 130)
    first = api.get("/api/v1/outages/").json()
    assert len(first) == 100
    ids = [o["id"] for o in first]
    assert set(ids) == {o.pk for o in made[-100:]}
    rest = api.get("/api/v1/outages/", {"before": min(ids)}).json()
    assert {o["id"] for o in rest} == {o.pk for o in made[:30]}
    assert api.get("/api/v1/outages/", {"before": "x"}).status_code == 400


def test_personal_api_answers_are_not_cached(applicant_api, applicant, bhopal_slot):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    for url in ("/api/v1/bookings/", f"/api/v1/bookings/{booking.reference}/"):
        cache_control = applicant_api.get(url)["Cache-Control"]
        assert "private" in cache_control and "no-store" in cache_control


def test_personal_pages_and_calendar_are_not_cached(client, applicant, bhopal_slot):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    sign_in(client, applicant)
    for url in (
        "/my/bookings/",
        "/my/details/",
        f"/my/bookings/{booking.reference}/",
        f"/my/bookings/{booking.reference}/calendar.ics",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]


def test_metrics_without_a_token_is_refused_in_production(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_PUBLIC = False
    response = client.get("/metrics")
    assert response.status_code == 403
    assert "METRICS_TOKEN" in response.json()["detail"]
    settings.METRICS_TOKEN = "s3cret-metrics"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics").status_code == 200


def test_deploy_check_names_metrics_token(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_PUBLIC = False
    with pytest.raises(SystemCheckError, match="METRICS_TOKEN"):
        call_command("check", "--deploy", "--fail-level", "ERROR", tags=["security"])


def test_forwarded_proto_is_not_trusted_by_default(client):
    from django.conf import settings

    assert settings.SECURE_PROXY_SSL_HEADER is None
    response = client.get("/", HTTP_X_FORWARDED_PROTO="https")
    assert response.wsgi_request.is_secure() is False
