"""The deployment contract of docs/API.md ("Commands and configuration"), piece by piece.

The whole stack started with the plain commands is tests/integration/test_plain_stack.py; here
each promise on its own: a plain worker consumes every queue, every e-mail setting comes from
the environment and a backend that cannot send makes /readyz say why, SITE_URL is required in
production, no page answers 500 for a missing manifest entry, and lost work is found by fact (a
free lock), not after a timer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.template import engines
from django.test import override_settings
from django.utils import timezone

from notifications.dispatcher import notifications_release_orphans
from notifications.models import Notification
from rto_booking import locks
from rto_booking.celery import app
from slots.models import Outage
from slots.tasks import reconcile_outages_task, reschedule_outage_task
from tests.factories import NotificationFactory
from tests.live import free_port, start_private_redis, use_broker, wait_for

ROOT = Path(__file__).resolve().parents[2]


# --- Queues ------------------------------------------------------------------------------------


def test_a_plain_worker_consumes_every_queue_a_task_is_routed_to():
    consumed = set(app.amqp.queues.consume_from)
    assert consumed == {"default", "rescheduling", "notifications"}
    routed = {route["queue"] for route in app.conf.task_routes.values()}
    assert routed | {app.conf.task_default_queue} <= consumed


def test_q_still_selects_a_subset():
    from celery.app.amqp import Queues

    queues = Queues(app.conf.task_queues)
    queues.select(["notifications"])
    assert set(queues.consume_from) == {"notifications"}


# --- E-mail settings ---------------------------------------------------------------------------


def _settings_of(**env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EMAIL_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="rto_booking.settings",
        DJANGO_SECRET_KEY="a-test-secret-key-that-is-long-enough-for-django-checks-0123456789",
    )
    env.update(env_overrides)
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k) for k in dir(s) if k.startswith('EMAIL_')}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_every_django_email_setting_is_read_from_the_environment(tmp_path):
    result = _settings_of(
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path),
        EMAIL_HOST="smtp.example.in",
        EMAIL_PORT="2525",
        EMAIL_HOST_USER="rto",
        EMAIL_HOST_PASSWORD="secret",
        EMAIL_USE_SSL="true",
        EMAIL_TIMEOUT="7",
        EMAIL_SSL_CERTFILE="/etc/cert.pem",
        EMAIL_SSL_KEYFILE="/etc/key.pem",
        EMAIL_SUBJECT_PREFIX="[RTO] ",
        EMAIL_USE_LOCALTIME="true",
    )
    assert result.returncode == 0, result.stderr
    read = json.loads(result.stdout)
    assert read["EMAIL_FILE_PATH"] == str(tmp_path)
    assert (read["EMAIL_HOST"], read["EMAIL_PORT"], read["EMAIL_TIMEOUT"]) == (
        "smtp.example.in",
        2525,
        7,
    )
    assert (read["EMAIL_HOST_USER"], read["EMAIL_HOST_PASSWORD"]) == ("rto", "secret")
    assert read["EMAIL_USE_SSL"] is True and read["EMAIL_USE_TLS"] is False
    assert (read["EMAIL_SSL_CERTFILE"], read["EMAIL_SSL_KEYFILE"]) == (
        "/etc/cert.pem",
        "/etc/key.pem",
    )
    assert read["EMAIL_SUBJECT_PREFIX"] == "[RTO] " and read["EMAIL_USE_LOCALTIME"] is True


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend"}, "EMAIL_FILE_PATH"),
        ({"EMAIL_USE_TLS": "true", "EMAIL_USE_SSL": "true"}, "EMAIL_USE_SSL"),
        ({"EMAIL_PORT": "twenty-five"}, "EMAIL_PORT"),
        ({"SITE_URL": "booking.rto.example.in"}, "SITE_URL"),
    ],
)
def test_an_unusable_email_or_site_setting_stops_the_start_naming_it(overrides, named):
    result = _settings_of(**overrides)
    assert result.returncode != 0
    assert named in result.stderr


def test_the_file_backend_writes_where_email_file_path_says(settings, tmp_path):
    from django.core.mail import EmailMessage

    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    EmailMessage("Subject", "Body", to=["a@example.in"]).send()
    (written,) = (tmp_path / "mail").glob("*.log")
    assert "a@example.in" in written.read_text()


# --- /readyz says when a backend cannot send ---------------------------------------------------


@pytest.mark.django_db
def test_readyz_fails_with_the_reason_when_the_email_file_path_is_unusable(
    client, settings, tmp_path
):
    not_a_directory = tmp_path / "mail"
    not_a_directory.write_text("a file where the mail directory should be")
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(not_a_directory)
    response = client.get("/readyz?checks=email")
    assert response.status_code == 503
    email = response.json()["checks"]["email"]
    assert email["status"] == "fail" and str(not_a_directory) in email["error"]

    settings.EMAIL_FILE_PATH = str(tmp_path / "mailbox")
    assert client.get("/readyz?checks=email").status_code == 200


@pytest.mark.django_db
def test_readyz_opens_a_real_smtp_connection(client, settings):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    from notifications import readiness

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    readiness._smtp_answer.clear()
    refused = client.get("/readyz?checks=email")
    assert refused.status_code == 503
    assert "Connection refused" in refused.json()["checks"]["email"]["error"]

    server = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    server.start()
    try:
        settings.EMAIL_PORT = server.port
        assert client.get("/readyz?checks=email").status_code == 200
    finally:
        server.stop()
        readiness._smtp_answer.clear()


@pytest.mark.django_db
def test_readyz_reports_the_sms_backend(client, settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_DIR = str(tmp_path / "sms")
    body = client.get("/readyz?checks=sms").json()
    assert body["checks"]["sms"] == {"status": "ok", "backend": "file"}


# --- SITE_URL ----------------------------------------------------------------------------------


def _check_deploy(**env_overrides) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "SITE_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="rto_booking.settings",
        DJANGO_SECRET_KEY="x" * 64 + "-check-deploy-site-url",
        DJANGO_ALLOWED_HOSTS="example.in",
        DATABASE_URL="postgres://rto:rto@127.0.0.1:5432/rto",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_requires_site_url_and_names_it():
    result = _check_deploy()
    assert result.returncode != 0
    assert "rto.E001" in result.stderr and "SITE_URL" in result.stderr
    ready = {"SITE_URL": "https://booking.rto.example.in", "METRICS_TOKEN": "a-long-random-token"}
    assert _check_deploy(**ready).returncode == 0


def test_check_deploy_requires_metrics_token_and_names_it():
    result = _check_deploy(SITE_URL="https://booking.rto.example.in")
    assert result.returncode != 0
    assert "rto.E002" in result.stderr and "METRICS_TOKEN" in result.stderr


def test_check_deploy_warns_about_a_localhost_site_url():
    result = _check_deploy(SITE_URL="http://127.0.0.1:8000")
    assert "rto.W001" in result.stdout + result.stderr


# --- Static files ------------------------------------------------------------------------------


def test_a_name_missing_from_the_manifest_falls_back_instead_of_failing(settings, tmp_path):
    (tmp_path / "staticfiles.json").write_text(
        json.dumps({"paths": {}, "version": "1.1", "hash": "0"})
    )
    settings.STATIC_ROOT = str(tmp_path)
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "rto_booking.deployment.StaticFilesStorage"},
    }
    html = engines["django"].from_string("{% load static %}{% static 'css/site.css' %}").render()
    assert html == "/static/css/site.css"


def test_deployment_problems_name_the_missing_steps(settings, tmp_path):
    from rto_booking.deployment import deployment_problems

    settings.STATIC_ROOT = str(tmp_path / "empty")
    settings.LOCALE_PATHS = [tmp_path / "no-locale"]
    with override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "rto_booking.deployment.StaticFilesStorage"},
        }
    ):
        problems = " ".join(deployment_problems())
    assert "collectstatic --noinput" in problems
    assert "compile_messages.py" in problems


# --- Lost work is found by fact ----------------------------------------------------------------


def _other_session():
    """A second PostgreSQL session, as another process would hold its locks."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(autocommit=True, **params)


def _running_outage(office) -> Outage:
    """An outage whose run was started (state running) and may have died since."""
    outage = Outage.objects.create(
        expected_end=timezone.now() + timezone.timedelta(hours=2),
        reason="down",
        state=Outage.State.RUNNING,
    )
    outage.offices.add(office)
    return outage


@pytest.mark.django_db(transaction=True)
def test_reconcile_leaves_a_run_whose_lock_is_held_and_restarts_one_whose_lock_is_free(
    bhopal, tmp_path
):
    import redis as redis_client
    from django.core.cache import cache

    outage = _running_outage(bhopal)
    broker = start_private_redis(log_dir=tmp_path / "redis")
    other = _other_session()
    try:
        queued = redis_client.Redis.from_url(broker.url)
        with use_broker(broker.url):  # published for real, to a Redis nobody consumes
            other.execute("SELECT pg_advisory_lock(%s, %s)", [locks.OUTAGE_RUN, outage.pk])
            assert reconcile_outages_task() == []  # a live run (another process) holds the lock
            assert queued.llen("rescheduling") == 0
            other.execute("SELECT pg_advisory_unlock(%s, %s)", [locks.OUTAGE_RUN, outage.pk])
            cache.clear()
            assert reconcile_outages_task() == [outage.pk]  # its run died: nobody holds the lock
            assert queued.llen("rescheduling") == 1
            assert reconcile_outages_task() == []  # published a moment ago: not doubled
        queued.close()
    finally:
        other.close()
        broker.stop()


@pytest.mark.django_db(transaction=True)
def test_a_run_killed_right_after_a_reconcile_published_it_is_published_again_next_round(
    bhopal, tmp_path
):
    import redis as redis_client

    outage = _running_outage(bhopal)
    broker = start_private_redis(log_dir=tmp_path / "redis")
    try:
        queued = redis_client.Redis.from_url(broker.url)
        with use_broker(broker.url):
            assert reconcile_outages_task() == [outage.pk]  # its run died: published
            reschedule_outage_task(outage.pk)  # a worker takes the message and starts the run…
            Outage.objects.filter(pk=outage.pk).update(state=Outage.State.RUNNING)  # …killed
            assert reconcile_outages_task() == [outage.pk]  # the next round, not two rounds on
            assert queued.llen("rescheduling") == 2
        queued.close()
    finally:
        broker.stop()


@pytest.mark.django_db(transaction=True)
def test_rows_of_a_dead_dispatcher_are_handed_back_at_once_a_live_ones_are_not():
    leased = timezone.now() + timezone.timedelta(minutes=5)
    live_token, dead_token = locks.new_token(), locks.new_token()
    live = NotificationFactory(claimed_by=live_token, next_attempt_at=leased)
    dead = NotificationFactory(claimed_by=dead_token, next_attempt_at=leased)
    other = _other_session()
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [locks.DISPATCHER, live_token])
        assert notifications_release_orphans() == 1
        live.refresh_from_db()
        dead.refresh_from_db()
        assert (live.claimed_by, live.next_attempt_at) == (live_token, leased)
        assert dead.claimed_by is None and dead.next_attempt_at <= timezone.now()
        assert dead.status == Notification.Status.PENDING
    finally:
        other.close()
    # The live run's connection is gone now (its backend ends a moment after the close).
    assert wait_for(lambda: notifications_release_orphans() == 1, timeout=10)
