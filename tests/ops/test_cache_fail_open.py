"""The cache fails open: with Redis gone, throttled API requests still answer (no 500)."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from tests.live import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "rto_booking.cache.FailOpenRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "KEY_PREFIX": "rto",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    return caches["default"]


def test_a_dead_cache_reads_empty_and_drops_writes(dead_redis_cache):
    cache = dead_redis_cache
    assert cache.get("k", "default") == "default"
    assert cache.get_many(["a", "b"]) == {}
    cache.set("k", 1)
    assert cache.add("k", 1) is False
    assert cache.incr("counter") == 1
    assert cache.delete("k") is False


def test_booking_through_the_throttled_api_works_without_redis(
    dead_redis_cache, applicant_api, bhopal_slot, settings
):
    settings.RATE_LIMITS = "on"
    response = applicant_api.post("/api/v1/bookings/", {"slot": bhopal_slot.pk})
    assert response.status_code == 201, response.content
    assert applicant_api.get("/api/v1/bookings/").status_code == 200
