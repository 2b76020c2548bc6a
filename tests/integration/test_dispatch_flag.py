"""A burst of bookings publishes one dispatcher task per dispatcher run, not one per booking."""

import pytest
import redis
from django.core.cache import cache

from notifications.services import DISPATCH_QUEUED_KEY, _dispatch_started, _publish_dispatch

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_publishes_once_until_the_dispatcher_starts(broker, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.delete(DISPATCH_QUEUED_KEY)
    queue = redis.Redis.from_url(broker.url)
    queue.delete("notifications")

    for _ in range(5):  # five bookings commit while no dispatcher has started
        _publish_dispatch()
    assert queue.llen("notifications") == 1

    _dispatch_started()  # the worker picks the task up: later commits need a new run
    _publish_dispatch()
    assert queue.llen("notifications") == 2
    cache.delete(DISPATCH_QUEUED_KEY)
