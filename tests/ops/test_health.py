"""/healthz, /readyz and the worker heartbeats they read (docs/OPERATIONS.md, "Health")."""

from __future__ import annotations

import time

import pytest

from rto_booking import health
from tests.live import free_port

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_the_database_or_checking_the_host(
    client, django_assert_num_queries, settings
):
    settings.ALLOWED_HOSTS = ["example.in"]
    settings.SECURE_SSL_REDIRECT = True
    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_postgres_redis_and_a_worker_of_each_queue_answer(
    client, heartbeat_redis, settings
):
    queues = settings.READINESS_WORKER_QUEUES
    health.heartbeat_write(redis_url=settings.REDIS_URL, hostname="w1@host", queues=queues)
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["postgresql"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    workers = body["checks"]["workers"]
    assert workers["status"] == "ok"
    assert set(workers["queues"]) == set(queues)
    assert all(q["heartbeat_age_s"] < 5 for q in workers["queues"].values())


def test_readyz_is_503_naming_the_queue_whose_worker_is_silent(client, heartbeat_redis, settings):
    rescheduling, notifications = settings.READINESS_WORKER_QUEUES
    settings.READINESS_HEARTBEAT_MAX_AGE = 30
    now = time.time()
    health.heartbeat_write(
        redis_url=settings.REDIS_URL, hostname="r@host", queues=[rescheduling], now=now
    )
    health.heartbeat_write(
        redis_url=settings.REDIS_URL, hostname="n@host", queues=[notifications], now=now - 90
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["postgresql"]["status"] == "ok"
    queues = body["checks"]["workers"]["queues"]
    assert queues[rescheduling]["status"] == "ok"
    assert queues[notifications] == {"status": "fail", "heartbeat_age_s": pytest.approx(90, 2)}


def test_readyz_is_503_when_redis_does_not_answer(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["postgresql"]["status"] == "ok"
    assert checks["redis"]["status"] == "fail" and "Error" in checks["redis"]["error"]
    assert checks["workers"]["status"] == "fail"


def test_readyz_without_redis_skips_redis_and_workers(client, settings):
    settings.REDIS_URL = ""  # embedded mode: tasks run in-process
    response = client.get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["redis"] == {"status": "skipped (in-process)"}
    assert checks["workers"] == {"status": "skipped (in-process)"}
    assert checks["postgresql"]["status"] == "ok"


def test_readyz_can_check_only_postgres_for_a_load_balancer(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/readyz?checks=postgresql")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"postgresql"}
    assert client.get("/readyz?checks=nonsense").status_code == 400


def test_worker_health_command_reads_its_own_heartbeat(heartbeat_redis, settings, monkeypatch):
    queue = settings.READINESS_WORKER_QUEUES[0]
    monkeypatch.setenv("REDIS_URL", settings.REDIS_URL)
    args = ["worker", "--queue", queue, "--hostname", "me@box", "--max-age", "30"]
    assert health.main(args) == 1  # never beat
    health.heartbeat_write(redis_url=settings.REDIS_URL, hostname="me@box", queues=[queue])
    assert health.main(args) == 0
    assert health.main(["worker", "--queue", queue]) == 0  # any worker of the queue
    health.heartbeat_write(
        redis_url=settings.REDIS_URL, hostname="me@box", queues=[queue], now=time.time() - 60
    )
    assert health.main(args) == 1
