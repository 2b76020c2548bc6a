"""No floods, only the latest: a newer message about a booking supersedes an unsent older one,
and no mobile gets more than SMS_MAX_PER_HOUR SMS an hour. Real rows in PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from notifications.dispatcher import notifications_dispatch
from notifications.models import Notification
from tests.factories import ApplicantFactory, BookingFactory, NotificationFactory

pytestmark = pytest.mark.django_db
Status = Notification.Status


def sms_sent_ids(settings) -> Counter:
    directory = Path(settings.SMS_FILE_DIR)
    if not directory.exists():
        return Counter()
    return Counter(json.loads(p.read_text())["notification_id"] for p in directory.glob("*.json"))


def due(**kwargs) -> Notification:
    return NotificationFactory(next_attempt_at=timezone.now() - timedelta(seconds=1), **kwargs)


def test_a_newer_message_about_the_booking_supersedes_the_unsent_one(settings):
    booking = BookingFactory()
    held = due(booking=booking, kind="on_hold")
    placed = due(booking=booking, kind="rescheduled_outage")

    result = notifications_dispatch()

    held.refresh_from_db()
    placed.refresh_from_db()
    assert (held.status, placed.status) == (Status.SUPERSEDED, Status.SENT)
    assert held.sent_at is None and "newer message" in held.last_error
    assert sms_sent_ids(settings) == Counter({placed.pk: 1})
    assert (result.superseded, result.sent) == (1, 1)


def test_each_channel_keeps_its_own_latest(settings, mailoutbox):
    booking = BookingFactory(applicant=ApplicantFactory(email="a@example.in"))
    sms = due(booking=booking, kind="on_hold")
    email = due(booking=booking, kind="rescheduled_outage", channel="email")

    notifications_dispatch()

    sms.refresh_from_db()
    email.refresh_from_db()
    assert (sms.status, email.status) == (Status.SENT, Status.SENT)


def test_an_older_row_waiting_for_a_retry_is_superseded_by_a_newer_sent_one(settings):
    booking = BookingFactory()
    older = NotificationFactory(
        booking=booking, status=Status.FAILED, attempts=2, next_attempt_at=timezone.now()
    )
    NotificationFactory(booking=booking, status=Status.SENT, sent_at=timezone.now())

    notifications_dispatch()

    older.refresh_from_db()
    assert older.status == Status.SUPERSEDED
    assert sms_sent_ids(settings) == Counter()


def test_other_bookings_are_not_superseded(settings):
    first, second = due(), due()
    notifications_dispatch()
    assert sms_sent_ids(settings) == Counter({first.pk: 1, second.pk: 1})


def rows_to(mobile: str, count: int, **kwargs) -> list[Notification]:
    return [
        due(booking=BookingFactory(applicant=ApplicantFactory(mobile=mobile)), **kwargs)
        for _ in range(count)
    ]


def test_at_most_six_sms_an_hour_to_one_mobile_the_rest_held(settings):
    settings.SMS_MAX_PER_HOUR = 6
    rows = rows_to("+919811111111", 8)
    other = due()
    before = timezone.now()

    result = notifications_dispatch()

    statuses = Counter(
        Notification.objects.filter(pk__in=[r.pk for r in rows]).values_list("status", flat=True)
    )
    assert statuses == Counter({Status.SENT: 6, Status.PENDING: 2})
    assert (result.held, result.sent) == (2, 7)
    other.refresh_from_db()
    assert other.status == Status.SENT  # another mobile is not held up
    for row in Notification.objects.filter(pk__in=[r.pk for r in rows], status=Status.PENDING):
        assert row.attempts == 0 and "Held" in row.last_error
        assert 59 * 60 <= (row.next_attempt_at - before).total_seconds() <= 61 * 60


def test_the_hour_counts_sms_already_sent_and_held_ones_go_when_it_passes(settings):
    settings.SMS_MAX_PER_HOUR = 6
    mobile = "+919822222222"
    earlier = timezone.now() - timedelta(minutes=50)
    for _ in range(5):
        NotificationFactory(
            booking=BookingFactory(applicant=ApplicantFactory(mobile=mobile)),
            status=Status.SENT,
            sent_at=earlier,
        )
    rows = rows_to(mobile, 3)

    notifications_dispatch()

    waiting = Notification.objects.filter(pk__in=[r.pk for r in rows], status=Status.PENDING)
    assert waiting.count() == 2
    # Held until the oldest SMS of that hour is an hour old: 10 minutes from now.
    for row in waiting:
        assert abs((row.next_attempt_at - (earlier + timedelta(hours=1))).total_seconds()) < 2

    # The hour passes.
    Notification.objects.filter(status=Status.SENT).update(
        sent_at=timezone.now() - timedelta(minutes=61)
    )
    waiting.update(next_attempt_at=timezone.now())
    notifications_dispatch()
    assert set(
        Notification.objects.filter(pk__in=[r.pk for r in rows]).values_list("status", flat=True)
    ) == {Status.SENT}


def test_e_mail_is_not_held_by_the_sms_cap(settings, mailoutbox):
    settings.SMS_MAX_PER_HOUR = 1
    mobile = "+919833333333"
    bookings = [
        BookingFactory(applicant=ApplicantFactory(mobile=mobile, email="e@example.in"))
        for _ in range(3)
    ]
    for booking in bookings:
        due(booking=booking, event_key=f"event:b{booking.pk}")
        due(booking=booking, event_key=f"event:b{booking.pk}", channel="email")

    notifications_dispatch()

    sent = Counter(
        Notification.objects.filter(status=Status.SENT).values_list("channel", flat=True)
    )
    assert sent == Counter({"sms": 1, "email": 3})
    assert len(mailoutbox) == 3


def test_a_cap_of_zero_turns_it_off(settings):
    settings.SMS_MAX_PER_HOUR = 0
    rows_to("+919844444444", 8)
    assert notifications_dispatch().sent == 8


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatchers_keep_the_hourly_cap(settings):
    assert connection.vendor == "postgresql"
    settings.SMS_MAX_PER_HOUR = 6
    mobile = "+919855555555"
    rows = rows_to(mobile, 30)
    barrier = threading.Barrier(4)
    errors = []

    def run():
        from django.db import connection as thread_connection

        try:
            barrier.wait(timeout=60)
            notifications_dispatch(batch_size=3)
        except Exception as exc:
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)

    assert not errors, errors
    sent = sms_sent_ids(settings)
    assert sum(sent.values()) == 6 and max(sent.values()) == 1, sent
    statuses = Counter(
        Notification.objects.filter(pk__in=[r.pk for r in rows]).values_list("status", flat=True)
    )
    assert statuses == Counter({Status.SENT: 6, Status.PENDING: 24})
