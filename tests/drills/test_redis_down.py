"""Drill (b): Redis goes away while applicants book, then comes back (DESIGN.md invariant 8).

A private redis-server is the broker and the cache (throttle counters) of this process. It is
stopped by its PID; bookings made through the API still succeed (the cache fails open, a failed
publish is logged, not raised), and their outbox rows wait as `pending` in PostgreSQL. Redis is
started again on the same port with a worker, the minute sweep runs (as beat would), and every
message goes out exactly once.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from applicants.tokens import applicant_token_issue
from notifications.models import Notification
from notifications.tasks import sweep_outbox_task
from slots.integrity import integrity_violations
from slots.models import Booking
from tests.conftest import in_days
from tests.factories import ApplicantFactory, SlotFactory
from tests.live import start_celery_worker, start_private_redis, use_broker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
APPLICANTS = 6


def applicant_client(applicant) -> APIClient:
    client = APIClient()
    token = applicant_token_issue(applicant=applicant).token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_bookings_go_on_while_redis_is_down_and_their_messages_follow(
    tmp_path, settings, client, bhopal_photo
):
    redis = start_private_redis(log_dir=tmp_path / "redis")
    worker = None
    try:
        settings.REDIS_URL = redis.url
        settings.RATE_LIMITS = "on"
        # The settings' own cache (django-redis, errors ignored), on the private Redis.
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": redis.url}}
        assert caches["default"].add("drill", 1)  # the cache really is this Redis
        slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(3), capacity=APPLICANTS)
        clients = [applicant_client(ApplicantFactory()) for _ in range(APPLICANTS)]

        with use_broker(redis.url):
            redis.stop()
            assert wait_for(lambda: not redis.ping(), timeout=5)

            slowest = 0.0
            for api in clients:
                started = time.monotonic()
                response = api.post("/api/v1/bookings/", {"slot": slot.pk})
                slowest = max(slowest, time.monotonic() - started)
                assert response.status_code == 201, response.content
                assert api.get("/api/v1/bookings/").status_code == 200
            assert slowest < 5, f"a booking took {slowest:.1f} s with Redis down"
            assert Booking.objects.filter(slot=slot, status="confirmed").count() == APPLICANTS
            rows = Notification.objects.filter(kind="booking_confirmed")
            assert rows.count() >= APPLICANTS  # SMS for everyone, e-mail where given
            assert set(rows.values_list("status", flat=True)) == {"pending"}
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["redis"]["status"] == "fail"

            # Redis comes back on the same port; a worker starts; beat's sweep (every minute in
            # production) publishes a dispatcher for the waiting rows.
            redis = start_private_redis(port=redis.port, log_dir=tmp_path / "redis2")
            worker = start_celery_worker(
                redis_url=redis.url,
                extra_env={"SMS_BACKEND": "file", "SMS_FILE_DIR": settings.SMS_FILE_DIR},
                log_dir=tmp_path / "logs",
            )
            assert wait_for(lambda: _published(sweep_outbox_task), timeout=10)
            assert wait_for(lambda: not rows.exclude(status="sent").exists(), timeout=30), (
                list(rows.values_list("status", flat=True)),
                worker.log()[-3000:],
            )

        sms = Counter(rows.filter(channel="sms").values_list("booking_id", flat=True))
        assert len(sms) == APPLICANTS and set(sms.values()) == {1}
        files = list(Path(settings.SMS_FILE_DIR).glob("*.json"))
        assert len(files) == APPLICANTS, "every SMS sent once, none twice"
        assert integrity_violations() == {}
    finally:
        if worker is not None:
            worker.stop()
            worker.kill()
        redis.stop()


def _published(task) -> bool:
    try:
        task.apply_async()
    except Exception:
        return False
    return True
