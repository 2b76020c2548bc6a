"""The cache fails open (django-redis with IGNORE_EXCEPTIONS, as settings configure it): with
Redis gone, reads miss, writes are dropped and throttled API requests still answer (no 500)."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from tests.live import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_redis_cache(settings):
    configured = settings.CACHES["default"]
    assert configured["BACKEND"] == "django_redis.cache.RedisCache"
    settings.CACHES = {
        # The settings' own cache, pointed at a port where nothing listens.
        "default": {**configured, "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}
    }
    return caches["default"]


def test_a_dead_cache_reads_empty_and_drops_writes(dead_redis_cache):
    cache = dead_redis_cache
    assert cache.get("k", "default") == "default"
    assert cache.get_many(["a", "b"]) == {}
    cache.set("k", 1)
    assert not cache.add("k", 1)  # None: "could not say" (callers publish anyway)
    assert cache.incr("counter") is None
    assert not cache.delete("k")


def test_booking_through_the_throttled_api_works_without_redis(
    dead_redis_cache, applicant_api, bhopal_slot, settings
):
    settings.RATE_LIMITS = "on"
    response = applicant_api.post("/api/v1/bookings/", {"slot": bhopal_slot.pk})
    assert response.status_code == 201, response.content
    assert applicant_api.get("/api/v1/bookings/").status_code == 200
