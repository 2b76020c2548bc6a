"""Real processes for integration tests: a private Redis and Celery workers (tests/live.py).

Every test here is transactional, so a worker process sees what the test commits. Workers and
Redis servers started through these fixtures are stopped in teardown, whatever happened.
"""

from __future__ import annotations

import pytest
from django.db import connection

from tests.live import start_celery_worker, start_private_redis, use_broker

# The booking/event fixtures of the notification unit tests, shared here.
from tests.notifications.conftest import (  # noqa: F401
    gateway,
    jabalpur,
    jabalpur_photo,
    make_event,
    outage,
    photo_service,
)


@pytest.fixture(scope="session")
def shared_private_redis(tmp_path_factory):
    """One private redis-server for the session's workers (never the shared one on 6379)."""
    redis = start_private_redis(log_dir=tmp_path_factory.mktemp("redis"))
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def broker(shared_private_redis):
    """This process publishes real tasks to the private Redis instead of running them."""
    with use_broker(shared_private_redis.url):
        yield shared_private_redis


@pytest.fixture
def workers(transactional_db, tmp_path, settings):
    """`start(**kwargs)` starts a worker on the test database; all are stopped in teardown."""
    started = []

    def start(*, redis_url: str, extra_env: dict[str, str] | None = None, **kwargs):
        env = {
            "SMS_BACKEND": "file",
            "SMS_FILE_DIR": settings.SMS_FILE_DIR,
            "NOTIFICATION_RETRY_BASE_SECONDS": "0.5",
            "NOTIFICATION_RETRY_MAX_SECONDS": "2",
            **(extra_env or {}),
        }
        worker = start_celery_worker(
            database_name=connection.settings_dict["NAME"],
            redis_url=redis_url,
            extra_env=env,
            log_dir=tmp_path / "logs",
            wait=False,
            **kwargs,
        )
        started.append(worker)
        return worker

    def start_and_wait(**kwargs):
        worker = start(**kwargs)
        worker.wait_ready()
        return worker

    start.and_wait = start_and_wait
    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
        for worker in started:
            worker.kill()
