"""/metrics: database gauges computed on scrape, process counters, task timings, the token."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from notifications.models import Notification
from rto_booking import metrics

pytestmark = pytest.mark.django_db


def samples(response) -> dict[tuple, float]:
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture(autouse=True)
def _no_db_metric_cache(settings):
    settings.METRICS_DB_CACHE_SECONDS = 0


def test_metrics_report_bookings_outbox_backlog_and_http_requests(
    client, applicant_api, bhopal_slot, settings
):
    settings.METRICS_TOKEN = ""
    assert applicant_api.post("/api/v1/bookings/", {"slot": bhopal_slot.pk}).status_code == 201
    pending_sms = Notification.objects.filter(status="pending", channel="sms").count()
    assert pending_sms == 1

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    values = samples(response)
    assert values[("rto_metrics_database_up", ())] == 1
    assert values[("rto_bookings", (("status", "confirmed"),))] == 1
    assert values[("rto_outbox_messages", (("channel", "sms"), ("status", "pending")))] == 1
    assert ("rto_outbox_oldest_due_seconds", ()) in values
    assert values[("rto_outage_bookings", (("outcome", "moved"),))] == 0
    created = (
        "rto_http_requests_total",
        (("method", "POST"), ("route", "api:v1:booking-list"), ("status", "201")),
    )
    assert values[created] >= 1


def test_database_metrics_take_six_queries_whatever_the_size(
    client, django_assert_max_num_queries, settings
):
    settings.METRICS_TOKEN = ""
    # SAVEPOINT/RELEASE and SET LOCAL around the six GROUP BY/aggregate queries (the fifth:
    # every recent outage's time to notify, slots.told.told_metrics; the sixth: the waiting
    # list's offers by state and its length, one UNION).
    with django_assert_max_num_queries(9):
        assert client.get("/metrics").status_code == 200


def test_metrics_ask_for_the_bearer_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert ok.status_code == 200 and b"rto_bookings" in ok.content


def test_task_durations_and_dispatch_outcomes_are_recorded(client, settings):
    settings.METRICS_TOKEN = ""
    from notifications.tasks import dispatch_notifications_task, sweep_outbox_task

    sweep_outbox_task.apply()  # through Celery's tracer: task_prerun/task_postrun fire
    # What a dispatcher run returns reaches the counters through task_postrun.
    from celery import signals

    signals.task_postrun.send(
        sender=dispatch_notifications_task,
        task_id="t-1",
        task=dispatch_notifications_task,
        state="SUCCESS",
        retval={"sent": 3, "retrying": 2, "dead": 1},
    )
    values = samples(client.get("/metrics"))
    swept = (
        "rto_celery_task_duration_seconds_count",
        (("state", "SUCCESS"), ("task", "notifications.tasks.sweep_outbox")),
    )
    assert values[swept] >= 1
    assert values[("rto_notification_failures_total", (("kind", "dead"),))] >= 1
    assert values[("rto_notifications_dispatched_total", (("outcome", "sent"),))] >= 3


def test_a_database_failure_during_the_scrape_is_reported_not_raised(client, settings, monkeypatch):
    settings.METRICS_TOKEN = ""

    def broken(self):
        raise RuntimeError("database went away")

    monkeypatch.setattr(metrics.DatabaseCollector, "_query", broken)
    values = samples(client.get("/metrics"))
    assert values[("rto_metrics_database_up", ())] == 0
