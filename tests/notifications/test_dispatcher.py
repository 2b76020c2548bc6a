"""The dispatcher sends due rows once, records the outcome, and retries with backoff."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from icalendar import Calendar

from notifications.dispatcher import notifications_dispatch, retry_delay
from notifications.models import Notification
from notifications.tasks import _follow_up, sweep_outbox_task
from slots.messages import messages_write_for_events
from tests.factories import ApplicantFactory, NotificationFactory

pytestmark = pytest.mark.django_db
Kind = Notification.Kind


def sms_files(settings) -> list[dict]:
    directory = Path(settings.SMS_FILE_DIR)
    if not directory.exists():
        return []
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


def make_due(**kwargs) -> Notification:
    return NotificationFactory(next_attempt_at=timezone.now() - timedelta(seconds=1), **kwargs)


def test_sends_due_sms_and_marks_it_sent(make_event, settings):
    event = make_event(applicant=ApplicantFactory(email="", preferred_language="hi"))
    messages_write_for_events(events=[event], kind=Kind.BOOKING_CONFIRMED)

    result = notifications_dispatch()

    row = Notification.objects.get()
    assert (result.sent, row.status, row.attempts) == (1, "sent", 1)
    assert row.sent_at is not None
    assert row.provider_id.startswith(f"{row.pk}-")
    assert "आरटीओ जबलपुर" in row.body  # rendered once and kept
    (message,) = sms_files(settings)
    assert message == {
        "to": event.booking.applicant.mobile,
        "text": row.body,
        "reference": event.booking.reference,
        "kind": "booking_confirmed",
        "language": "hi",
        "notification_id": row.pk,
    }


def test_rows_not_yet_due_are_left_alone(settings):
    NotificationFactory(next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert notifications_dispatch().claimed == 0
    assert sms_files(settings) == []


def test_email_has_text_html_and_a_calendar_file(make_event):
    event = make_event(applicant=ApplicantFactory(email="ramesh@example.in"))
    messages_write_for_events(events=[event], kind=Kind.BOOKING_CONFIRMED)

    notifications_dispatch()

    email_row = Notification.objects.get(channel="email")
    assert email_row.status == "sent"
    (message,) = mail.outbox
    assert message.to == ["ramesh@example.in"]
    assert message.extra_headers["Message-ID"] == email_row.provider_id
    assert event.booking.reference in message.subject
    assert "RTO Jabalpur" in message.body
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html" and "<html" in html
    ((filename, ics, ics_type),) = message.attachments
    assert (filename, ics_type) == (f"rto-{event.booking.reference}.ics", "text/calendar")
    calendar = Calendar.from_ical(ics)
    (vevent,) = calendar.walk("VEVENT")
    assert vevent.decoded("dtstart") == event.booking.slot.starts_at
    assert vevent.decoded("dtend") == event.booking.slot.ends_at
    assert str(vevent["uid"]).startswith(event.booking.reference)
    assert "Civic Centre" in str(vevent["location"])


def test_needs_new_slot_email_has_no_calendar_file(make_event):
    event = make_event(applicant=ApplicantFactory(email="a@example.in"))
    messages_write_for_events(events=[event], kind=Kind.NEEDS_NEW_SLOT)
    notifications_dispatch()
    (message,) = mail.outbox
    assert message.attachments == []


def test_gateway_error_is_retried_with_growing_backoff(http_sms, settings):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 10
    http_sms.default = 500
    row = make_due()

    delays = []
    for attempt in (1, 2, 3):
        before = timezone.now()
        notifications_dispatch()
        row.refresh_from_db()
        assert (row.status, row.attempts) == ("failed", attempt)
        assert "HTTP 500" in row.last_error
        delays.append((row.next_attempt_at - before).total_seconds())
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())

    # Equal jitter: retry n waits between half and all of 10 * 2**(n-1) seconds.
    assert 5 <= delays[0] <= 10.5 and 10 <= delays[1] <= 20.5 and 20 <= delays[2] <= 40.5
    assert delays[0] < delays[1] < delays[2]

    http_sms.default = 200
    notifications_dispatch()
    row.refresh_from_db()
    assert (row.status, row.attempts, row.provider_id) == ("sent", 4, "gw-4")
    assert http_sms.requests[-1]["api_key"] == "test-key"
    assert http_sms.requests[-1]["body"]["sender"] == settings.SMS_GATEWAY_SENDER_ID


def test_dead_after_max_attempts_keeping_the_error(http_sms, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    http_sms.default = 503
    row = make_due()
    for _ in range(3):
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        notifications_dispatch()
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("dead", 3)
    assert "HTTP 503" in row.last_error
    assert notifications_dispatch().claimed == 0  # dead rows are never picked up again
    assert len(http_sms.requests) == 3


def test_gateway_4xx_is_dead_at_once(http_sms):
    http_sms.respond(400)
    row = make_due()
    result = notifications_dispatch()
    row.refresh_from_db()
    assert (result.dead, row.status, row.attempts) == (1, "dead", 1)
    assert "HTTP 400" in row.last_error and "invalid number" in row.last_error


def test_unreachable_gateway_is_retried(settings):
    settings.SMS_BACKEND = "http"
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/sms"  # discard port: connection refused
    row = make_due()
    notifications_dispatch()
    row.refresh_from_db()
    assert row.status == "failed" and "unreachable" in row.last_error


def test_dotted_path_backend(settings):
    settings.SMS_BACKEND = "notifications.backends.ConsoleSmsBackend"
    row = make_due()
    notifications_dispatch()
    row.refresh_from_db()
    assert row.status == "sent" and row.provider_id == f"console-{row.pk}"


def test_retry_delay_is_capped(settings):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 30
    settings.NOTIFICATION_RETRY_MAX_SECONDS = 3600
    assert all(1800 <= retry_delay(20) <= 3600 for _ in range(50))


def test_rows_claimed_but_not_sent_in_time_are_handed_back(settings, monkeypatch):
    rows = [make_due() for _ in range(3)]
    # A lease that is already spent: the dispatcher must not send, only hand the rows back.
    monkeypatch.setattr("notifications.dispatcher.LEASE_SAFETY", 0)
    result = notifications_dispatch(time_budget_seconds=0.5)
    assert result.sent == 0 and result.released >= 3
    for row in rows:
        row.refresh_from_db()
        assert (row.status, row.attempts) == ("pending", 0)
    assert sms_files(settings) == []


def test_sweep_counts_due_rows_and_dispatches(settings):
    make_due()
    assert sweep_outbox_task() == 1  # tests run eagerly: the dispatcher ran at once
    assert Notification.objects.get().status == "sent"
    assert sweep_outbox_task() == 0


def test_no_followup_runs_in_eager_mode():
    from notifications.dispatcher import DispatchResult

    assert _follow_up(DispatchResult()) == "eager"


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatchers_never_send_a_row_twice(settings, bhopal_photo):
    assert connection.vendor == "postgresql"
    rows = NotificationFactory.create_batch(240, next_attempt_at=timezone.now())
    barrier = threading.Barrier(4)
    results, errors = [], []

    def run():
        from django.db import connection as thread_connection

        try:
            barrier.wait(timeout=10)
            results.append(notifications_dispatch(batch_size=10))
        except Exception as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    sends = Counter(message["notification_id"] for message in sms_files(settings))
    assert set(sends) == {row.pk for row in rows}
    assert max(sends.values()) == 1
    assert sum(r.sent for r in results) == 240
    assert sum(1 for r in results if r.sent) >= 2  # the work really was shared
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}


def test_calendar_files_built_from_the_cache_carry_each_bookings_reference():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from notifications.backends import appointment_ics_cached

    starts = datetime(2026, 12, 12, 10, 30, tzinfo=ZoneInfo("Asia/Kolkata"))
    common = {
        "starts_at": starts,
        "ends_at": starts + timedelta(minutes=30),
        "summary": "Photo and biometrics – RTO Jabalpur",
        "location": "RTO Jabalpur, Civic Centre",
        "sequence": 3,
    }
    files = {
        ref: appointment_ics_cached(
            reference=ref,
            description=f"https://rtoslot.mp.gov.in/my/bookings/{ref}/",
            url=f"https://rtoslot.mp.gov.in/my/bookings/{ref}/",
            **common,
        )
        for ref in ("MP20PB0000000001", "MP20PB0000000002", "SHORT1")
    }
    for ref, content in files.items():
        (vevent,) = Calendar.from_ical(content).walk("VEVENT")
        assert str(vevent["uid"]) == f"{ref}@127.0.0.1"
        assert str(vevent["url"]) == f"https://rtoslot.mp.gov.in/my/bookings/{ref}/"
        assert vevent.decoded("dtstart") == starts
