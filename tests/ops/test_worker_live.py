"""With a real Celery worker: its heartbeats make /readyz green, its death makes it red, and a
request's id shows up in the log lines of the task that request enqueued."""

from __future__ import annotations

import json

import pytest

from notifications.models import Notification
from tests.live import start_celery_worker, start_private_redis, use_broker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_readiness_follows_a_real_worker_and_request_ids_reach_its_tasks(
    tmp_path, settings, client, applicant_api, bhopal_slot
):
    redis = start_private_redis(log_dir=tmp_path / "redis")
    worker = None
    try:
        settings.REDIS_URL = redis.url
        settings.READINESS_WORKER_QUEUES = ["rescheduling", "notifications"]
        settings.READINESS_HEARTBEAT_MAX_AGE = 3
        with use_broker(redis.url):
            assert client.get("/readyz").status_code == 503  # no worker yet
            worker = start_celery_worker(
                redis_url=redis.url,
                log_dir=tmp_path / "logs",
                heartbeat=True,
                extra_env={
                    "LOG_FORMAT": "json",
                    "SMS_BACKEND": "file",
                    "SMS_FILE_DIR": settings.SMS_FILE_DIR,
                },
            )
            assert wait_for(lambda: client.get("/readyz").status_code == 200, timeout=10)
            # Celery's heartbeat (every 2 s) keeps it green well past the 3 s limit.
            assert not wait_for(lambda: client.get("/readyz").status_code != 200, timeout=5)

            response = applicant_api.post(
                "/api/v1/bookings/", {"slot": bhopal_slot.pk}, HTTP_X_REQUEST_ID="ops-req-42"
            )
            assert response.status_code == 201, response.content
            assert response["X-Request-ID"] == "ops-req-42"
            assert wait_for(
                lambda: not Notification.objects.exclude(status="sent").exists(), timeout=30
            ), worker.log()[-3000:]

            def dispatch_logged_with_the_request_id() -> bool:
                # The rows are marked sent before the task's own log lines are written.
                lines = [
                    json.loads(line)
                    for line in worker.log().splitlines()
                    if line.startswith("{") and '"ops-req-42"' in line
                ]
                return any(
                    line["task_name"] == "notifications.tasks.dispatch_notifications"
                    for line in lines
                )

            assert wait_for(dispatch_logged_with_the_request_id, timeout=10), worker.log()[-3000:]

            worker.kill()
            assert wait_for(lambda: client.get("/readyz").status_code == 503, timeout=10)
            body = client.get("/readyz").json()
            assert body["checks"]["workers"]["status"] == "fail"
            assert body["checks"]["redis"]["status"] == "ok"
    finally:
        if worker is not None:
            worker.kill()
        redis.stop()
