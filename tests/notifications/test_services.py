"""The outbox's own use cases: rows written in a transaction are sent after it commits, failed
rows are retried on request, and a booking's messages read oldest first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.db import transaction
from django.utils import timezone

from notifications.models import Notification
from notifications.selectors import notifications_for_booking
from notifications.services import notifications_retry
from slots.messages import messages_write_for_events
from tests.factories import ApplicantFactory, NotificationFactory, UserFactory

Kind = Notification.Kind
pytestmark = pytest.mark.django_db


def test_rows_written_in_a_transaction_are_sent_after_commit(
    make_event, django_capture_on_commit_callbacks, settings
):
    event = make_event(applicant=ApplicantFactory(email=""))
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            messages_write_for_events(events=[event], kind=Kind.BOOKING_CONFIRMED)
        assert Notification.objects.get().status == "pending"  # nothing before the commit
    # Tests run Celery eagerly: the dispatcher ran when the transaction committed.
    assert Notification.objects.get().status == "sent"


def test_retry_requeues_dead_and_failed_rows_only():
    dead = NotificationFactory(status="dead", attempts=8, last_error="HTTP 500")
    failed = NotificationFactory(status="failed", attempts=3)
    sent = NotificationFactory(status="sent", attempts=1)

    changed = notifications_retry(ids=[dead.pk, failed.pk, sent.pk], acting_user=None)

    assert changed == 2
    dead.refresh_from_db()
    assert (dead.status, dead.attempts, dead.last_error) == ("pending", 0, "HTTP 500")
    assert dead.next_attempt_at <= timezone.now()
    sent.refresh_from_db()
    assert sent.status == "sent"


def test_notifications_for_booking_oldest_first():
    first = NotificationFactory()
    second = NotificationFactory(
        booking=first.booking, created_at=first.created_at + timedelta(seconds=1)
    )
    NotificationFactory()  # another booking's
    assert list(notifications_for_booking(booking_id=first.booking_id)) == [first, second]


def test_a_retry_asked_by_a_clerk_is_recorded_with_their_name():
    clerk = UserFactory(username="clerk-retry")
    dead = NotificationFactory(status="dead", attempts=8)
    assert notifications_retry(ids=[dead.pk], acting_user=clerk) == 1
    entry = LogEntry.objects.get(object_id=str(dead.pk))
    assert entry.user == clerk and "again" in entry.get_change_message()
