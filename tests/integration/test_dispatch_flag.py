"""A burst of bookings publishes one dispatcher task per dispatcher run, not one per booking."""

import itertools
import os
import threading
import time

import pytest
import redis
from django.core.cache import cache

from notifications import services
from notifications.services import (
    DISPATCH_QUEUED_KEY,
    _BackgroundPublisher,
    _dispatch_after_commit,
    _dispatch_started,
    _publish_dispatch,
    _publisher,
    notifications_publish_pending,
)
from tests.live import wait_for

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


def test_commits_publish_from_a_background_thread_once_per_burst(broker, settings):
    """The check-and-publish runs off the request's path; a burst still publishes once.
    (`_dispatch_after_commit` is what a commit runs; the test transaction never commits.)"""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.delete(DISPATCH_QUEUED_KEY)
    queue = redis.Redis.from_url(broker.url)
    queue.delete("notifications")

    _dispatch_after_commit()
    assert wait_for(lambda: queue.llen("notifications") == 1, timeout=10)
    publisher_threads = [t for t in threading.enumerate() if t.name == "dispatch-publisher"]
    assert len(publisher_threads) == 1 and publisher_threads[0] is not threading.current_thread()

    for _ in range(50):  # fifty bookings commit before the dispatcher starts
        _dispatch_after_commit()
    time.sleep(0.5)
    assert queue.llen("notifications") == 1

    _dispatch_started()  # the dispatcher starts: the next commit needs a new run
    _dispatch_after_commit()
    assert wait_for(lambda: queue.llen("notifications") == 2, timeout=10)
    cache.delete(DISPATCH_QUEUED_KEY)


def test_a_finished_task_or_exiting_process_publishes_what_its_thread_has_not(
    broker, settings, monkeypatch
):
    """Celery's task_postrun and atexit call `notifications_publish_pending`."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.delete(DISPATCH_QUEUED_KEY)
    queue = redis.Redis.from_url(broker.url)
    queue.delete("notifications")
    monkeypatch.setattr(_publisher, "_pid", os.getpid())  # as if the thread were running
    monkeypatch.setattr(_publisher, "_wanted", threading.Event())
    _publisher._wanted.set()  # a commit asked; the thread has not woken yet
    notifications_publish_pending()
    assert queue.llen("notifications") == 1 and not _publisher._wanted.is_set()
    cache.delete(DISPATCH_QUEUED_KEY)


def test_a_burst_of_commits_is_checked_once_per_interval_and_none_is_missed(
    broker, settings, monkeypatch
):
    """Commits while the publisher sleeps out its interval cost no thread wake-up and no Redis
    call: one check covers them. A commit after the dispatcher started is still published."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.delete(DISPATCH_QUEUED_KEY)
    queue = redis.Redis.from_url(broker.url)
    queue.delete("notifications")
    checks: list[float] = []
    publish = services._publish_dispatch

    def recorded_publish():
        checks.append(time.monotonic())
        publish()

    monkeypatch.setattr(services, "_publish_dispatch", recorded_publish)
    publisher = _BackgroundPublisher()
    publisher.interval = 0.2

    began = time.monotonic()
    for _ in range(100):  # a hundred bookings commit over about half a second
        publisher.request()
        time.sleep(0.005)
    assert wait_for(lambda: not publisher._wanted.is_set(), timeout=5)
    elapsed = time.monotonic() - began
    assert 2 <= len(checks) <= elapsed / publisher.interval + 2, (len(checks), elapsed)
    gaps = [later - earlier for earlier, later in itertools.pairwise(checks)]
    assert min(gaps) >= publisher.interval * 0.9, gaps
    assert queue.llen("notifications") == 1  # the flag held: one dispatcher for the burst

    _dispatch_started()  # the dispatcher starts; this commit lands during the pause
    publisher.request()
    assert wait_for(lambda: queue.llen("notifications") == 2, timeout=5)
    cache.delete(DISPATCH_QUEUED_KEY)
