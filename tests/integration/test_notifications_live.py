"""The outbox end to end with real Celery worker processes, a real Redis and PostgreSQL.

The test process plays the web side: it commits events (which publishes the dispatcher task to
Redis after commit), and the worker processes send the rows to files or to a local HTTP SMS
gateway. Nothing here is mocked.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from notifications.models import Notification
from notifications.tasks import dispatch_notifications_task, sweep_outbox_task
from rto_booking.queueing import enqueue_now
from slots.messages import messages_write_for_events
from tests.factories import ApplicantFactory, NotificationFactory
from tests.live import start_private_redis, use_broker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Kind = Notification.Kind
WAIT = 45  # seconds: generous for a loaded CI machine, still bounded


def statuses() -> Counter:
    return Counter(Notification.objects.values_list("status", flat=True))


def sent_files(settings) -> Counter:
    directory = Path(settings.SMS_FILE_DIR)
    if not directory.exists():
        return Counter()
    return Counter(
        json.loads(path.read_text())["notification_id"] for path in directory.glob("*.json")
    )


def write_confirmations(make_event, count: int, **applicant) -> list[int]:
    events = [make_event(applicant=ApplicantFactory(**applicant)) for _ in range(count)]
    with transaction.atomic():
        messages_write_for_events(events=events, kind=Kind.BOOKING_CONFIRMED)
    return [e.pk for e in events]


def test_rows_written_with_events_are_sent_by_the_worker(broker, workers, make_event, settings):
    worker = workers.and_wait(redis_url=broker.url)

    write_confirmations(make_event, 5)  # 5 SMS + 5 e-mails, dispatched after commit

    assert wait_for(lambda: statuses() == Counter(sent=10), timeout=WAIT), (
        statuses(),
        worker.log()[-3000:],
    )
    files = sent_files(settings)
    assert len(files) == 5 and set(files.values()) == {1}
    assert all(row.provider_id for row in Notification.objects.all())


def test_gateway_errors_are_retried_until_it_recovers_and_4xx_is_dead(
    broker, workers, make_event, gateway
):
    gateway.respond(500, 500)  # down twice, then the default 200
    worker = workers.and_wait(
        redis_url=broker.url,
        extra_env={"SMS_BACKEND": "http", "SMS_GATEWAY_URL": gateway.url},
    )

    write_confirmations(make_event, 1, email="")
    row = Notification.objects.get()
    assert wait_for(lambda: Notification.objects.get(pk=row.pk).status == "sent", timeout=WAIT), (
        Notification.objects.filter(pk=row.pk).values().get(),
        worker.log()[-3000:],
    )
    row.refresh_from_db()
    assert row.attempts == 3
    assert [r["status"] for r in gateway.requests] == [500, 500, 200]
    assert row.provider_id == "gw-3"

    gateway.respond(422)
    write_confirmations(make_event, 1, email="")
    refused = Notification.objects.exclude(pk=row.pk).get()
    assert wait_for(
        lambda: Notification.objects.get(pk=refused.pk).status == "dead", timeout=WAIT
    ), worker.log()[-3000:]
    refused.refresh_from_db()
    assert refused.attempts == 1
    assert "HTTP 422" in refused.last_error
    time.sleep(1.5)  # longer than any retry delay here: a dead row is never tried again
    assert len(gateway.requests) == 4


def test_rows_written_while_redis_is_down_go_out_when_it_returns(
    workers, make_event, settings, tmp_path
):
    redis = start_private_redis(log_dir=tmp_path / "redis")
    try:
        with use_broker(redis.url):
            worker = workers.and_wait(redis_url=redis.url)
            redis.stop()
            assert not redis.alive()

            write_confirmations(make_event, 3, email="")  # the publish fails, quietly

            time.sleep(2)
            assert statuses() == Counter(pending=3)
            assert sent_files(settings) == Counter()

            redis = start_private_redis(port=redis.port, log_dir=tmp_path / "redis")
            # What beat does every minute: the sweep finds the due rows and dispatches.
            assert wait_for(lambda: enqueue_now(sweep_outbox_task), timeout=10)
            assert wait_for(lambda: statuses() == Counter(sent=3), timeout=WAIT), (
                statuses(),
                worker.log()[-4000:],
            )
            assert set(sent_files(settings).values()) == {1}
    finally:
        redis.stop()


def test_two_workers_never_send_a_row_twice(broker, workers, settings, bhopal_photo):
    rows = NotificationFactory.create_batch(1500, next_attempt_at=timezone.now())
    env = {"NOTIFICATION_BATCH_SIZE": "25"}
    first = workers(redis_url=broker.url, extra_env=env)
    second = workers(redis_url=broker.url, extra_env=env)
    first.wait_ready()
    second.wait_ready()

    for _ in range(6):  # several dispatchers racing for the same rows
        assert enqueue_now(dispatch_notifications_task)

    assert wait_for(lambda: statuses() == Counter(sent=1500), timeout=WAIT), (
        statuses(),
        first.log()[-2000:],
        second.log()[-2000:],
    )
    sends = sent_files(settings)
    assert set(sends) == {row.pk for row in rows}
    assert max(sends.values()) == 1
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}
    shares = [w.log().count("Notification dispatch:") for w in (first, second)]
    print(f"dispatcher runs that sent something, per worker: {shares}")


def test_a_worker_killed_mid_batch_loses_nothing(broker, workers, make_event, gateway):
    gateway.delay = 0.25  # a slow gateway: the worker is killed with a batch in flight
    in_flight = 4
    env = {
        "SMS_BACKEND": "http",
        "SMS_GATEWAY_URL": gateway.url,
        "SMS_MAX_IN_FLIGHT": str(in_flight),
        "NOTIFICATION_CLAIM_LEASE_SECONDS": "6",
    }
    first = workers.and_wait(redis_url=broker.url, extra_env=env)
    write_confirmations(make_event, 40, email="")
    assert wait_for(lambda: len(gateway.requests) >= 6, timeout=WAIT), first.log()[-3000:]

    first.kill()  # SIGKILL: no chance to record or hand anything back
    assert statuses()["sent"] < 40

    second = workers.and_wait(redis_url=broker.url, extra_env=env)

    # Beat's sweep, every few seconds until the lease of the dead worker's claim has ended.
    def all_sent() -> bool:
        enqueue_now(sweep_outbox_task)
        return statuses() == Counter(sent=40)

    assert wait_for(all_sent, timeout=WAIT, interval=2), second.log()[-3000:]
    per_row = Counter(r["body"]["reference"] for r in gateway.accepted())
    assert len(per_row) == 40  # every message reached the gateway
    # Sends the dead worker made but had not recorded are repeated (at-least-once after a
    # crash): recording every second bounds them to the requests in flight at the kill and
    # about a second of sending before it (in_flight / delay a second).
    repeated = sum(count - 1 for count in per_row.values())
    assert repeated <= in_flight / gateway.delay + in_flight, per_row
    print(f"messages repeated after the kill: {repeated}")


def test_a_busy_gateway_answering_429_and_500_for_a_while_loses_nothing(
    broker, workers, make_event
):
    """A real worker against a gateway that takes 20 a second (429 + Retry-After above it)
    and fails its first answers with 500: every message reaches it exactly once."""
    from tests.gateways import GenericGateway

    gateway = GenericGateway(delay=0.05, tps=20).start()
    gateway.respond(*([500] * 10))
    try:
        env = {
            "SMS_BACKEND": "http",
            "SMS_GATEWAY_URL": gateway.url,
            "SMS_GATEWAY_TPS": "50",  # more than the gateway takes: its 429s hold the rate
            "SMS_MAX_IN_FLIGHT": "10",
        }
        worker = workers.and_wait(redis_url=broker.url, extra_env=env)
        write_confirmations(make_event, 60, email="")

        # Retries fall due within 2 s (the workers fixture); beat's sweep starts a dispatcher.
        def all_sent() -> bool:
            enqueue_now(sweep_outbox_task)
            return statuses() == Counter(sent=60)

        assert wait_for(all_sent, timeout=WAIT * 2, interval=2), worker.log()[-3000:]
        per_row = Counter(r["body"]["reference"] for r in gateway.accepted())
        assert len(per_row) == 60 and max(per_row.values()) == 1
        answers = Counter(gateway.statuses())
        assert answers[500] == 10 and answers[200] == 60
        print(f"gateway answers: {dict(answers)}")
    finally:
        gateway.stop()
