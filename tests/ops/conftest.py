"""Fixtures for the operations tests: API clients and the heartbeat keys of a test."""

from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import applicant_api  # noqa: F401


@pytest.fixture
def heartbeat_redis(settings):
    """The Redis of the test settings; /readyz checks two queues of this test's own."""
    import redis

    from rto_booking.health import HEARTBEAT_KEY

    suffix = uuid.uuid4().hex[:8]
    settings.READINESS_WORKER_QUEUES = [f"rescheduling-{suffix}", f"notifications-{suffix}"]
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = [HEARTBEAT_KEY.format(queue=q) for q in settings.READINESS_WORKER_QUEUES]
    client.delete(*keys)
    yield client
    client.delete(*keys)
    client.close()
