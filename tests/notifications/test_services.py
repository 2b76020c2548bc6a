"""Outbox rows are written with the events they announce: one per event and channel."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from applicants.links import one_tap_cancel_reference
from notifications.models import Notification
from notifications.selectors import notifications_for_booking
from notifications.services import (
    notification_rows_for_events,
    notifications_dispatch_on_commit,
    notifications_retry,
    notifications_write,
    notifications_write_reminders,
)
from slots.models import Booking, BookingEvent
from tests.factories import (
    ApplicantFactory,
    BookingFactory,
    NotificationFactory,
    SlotFactory,
    local_dt,
)

Kind = Notification.Kind
pytestmark = pytest.mark.django_db


def test_one_row_per_event_and_channel(make_event):
    with_email = make_event(applicant=ApplicantFactory(email="a@example.in"))
    sms_only = make_event(applicant=ApplicantFactory(email=""))

    written = notifications_write(events=[with_email, sms_only], kind=Kind.BOOKING_CONFIRMED)

    assert written == 3
    rows = Notification.objects.order_by("event_key", "channel")
    assert {(r.event_key, r.channel, r.recipient) for r in rows} == {
        (f"event:{with_email.pk}", "email", "a@example.in"),
        (f"event:{with_email.pk}", "sms", with_email.booking.applicant.mobile),
        (f"event:{sms_only.pk}", "sms", sms_only.booking.applicant.mobile),
    }
    assert all(r.status == "pending" and r.body == "" for r in rows)  # rendered at send time


def test_writing_the_same_events_twice_adds_nothing(make_event):
    event = make_event()
    notifications_write(events=[event], kind=Kind.BOOKING_CONFIRMED)
    notifications_write(events=[event], kind=Kind.BOOKING_CONFIRMED)
    assert Notification.objects.count() == 2


def test_row_language_follows_the_applicant(make_event, hindi_applicant):
    event = make_event(applicant=hindi_applicant)
    notifications_write(events=[event], kind=Kind.BOOKING_CONFIRMED)
    assert set(Notification.objects.values_list("language", flat=True)) == {"hi"}


def test_rows_for_events_runs_no_query(make_event, outage, django_assert_num_queries):
    events = [
        make_event(kind=BookingEvent.Kind.RESCHEDULED, outage=outage, from_hour=9) for _ in range(3)
    ]
    with django_assert_num_queries(0):
        rows = notification_rows_for_events(
            events=events, kind=Kind.RESCHEDULED_OUTAGE, extra={"moved_at": timezone.now()}
        )
    assert len(rows) == 6


def test_context_carries_what_the_templates_need(make_event, outage, settings):
    settings.SITE_URL = "https://rtoslot.mp.gov.in"
    event = make_event(kind=BookingEvent.Kind.RESCHEDULED, outage=outage, from_hour=9)

    (row, _email) = notification_rows_for_events(
        events=[event], kind=Kind.RESCHEDULED_OUTAGE, extra={"reason": "Server failure"}
    )

    context = json.loads(json.dumps(row.context))  # plain JSON, nothing else
    booking = event.booking
    assert context["reference"] == booking.reference
    assert context["full_name"] == booking.applicant.full_name
    assert context["office"]["name_hi"] == "आरटीओ जबलपुर"
    assert context["office"]["address"].startswith("Civic Centre")
    assert context["service"]["slug"] == "photo-biometrics"
    assert context["slot"]["starts_at"] == booking.slot.starts_at.isoformat()
    assert context["from_starts_at"] == event.from_starts_at.isoformat()
    assert context["to_starts_at"] == event.to_starts_at.isoformat()
    assert context["outage"] == {
        "id": outage.pk,
        "reason": "Licence server down",
        "reason_hi": "लाइसेंस सर्वर बंद",
    }
    assert context["reason"] == "Server failure"
    assert context["links"]["booking"] == (
        f"https://rtoslot.mp.gov.in/my/bookings/{booking.reference}/"
    )


def test_unknown_kind_is_refused(make_event):
    with pytest.raises(ValueError, match="Unknown notification kind"):
        notification_rows_for_events(events=[make_event()], kind="party")


def test_dispatch_is_enqueued_once_per_transaction(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        notifications_dispatch_on_commit()
        notifications_dispatch_on_commit()
        notifications_dispatch_on_commit()
    assert len(callbacks) == 1


def test_a_rolled_back_savepoint_does_not_suppress_the_dispatch(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        try:
            with transaction.atomic():
                notifications_dispatch_on_commit()
                raise RuntimeError("chunk failed")
        except RuntimeError:
            pass
        notifications_dispatch_on_commit()
    assert len(callbacks) == 1


def test_rows_written_in_a_transaction_are_sent_after_commit(
    make_event, django_capture_on_commit_callbacks, settings
):
    event = make_event(applicant=ApplicantFactory(email=""))
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            notifications_write(events=[event], kind=Kind.BOOKING_CONFIRMED)
        assert Notification.objects.get().status == "pending"  # nothing before the commit
    # Tests run Celery eagerly: the dispatcher ran when the transaction committed.
    assert Notification.objects.get().status == "sent"


def _booking_at(offering, when, **kwargs):
    slot = SlotFactory(offering=offering, starts_at=when, ends_at=when + timedelta(minutes=30))
    return BookingFactory(slot=slot, **kwargs)


def test_reminders_for_tomorrows_confirmed_bookings_only(jabalpur_photo, settings):
    settings.SITE_URL = "https://rtoslot.mp.gov.in"
    now = local_dt(timezone.localdate(), 21)
    tomorrow = now.date() + timedelta(days=1)
    due = _booking_at(jabalpur_photo, local_dt(tomorrow, 10))
    late_evening = _booking_at(jabalpur_photo, local_dt(tomorrow, 23, 30))
    _booking_at(jabalpur_photo, local_dt(tomorrow + timedelta(days=1), 0, 0))  # day after
    _booking_at(jabalpur_photo, local_dt(now.date(), 23))  # today
    _booking_at(jabalpur_photo, local_dt(tomorrow, 11), status=Booking.Status.CANCELLED)

    written = notifications_write_reminders(now=now)

    rows = Notification.objects.filter(kind=Kind.REMINDER)
    assert written == 4 == rows.count()
    assert {r.booking_id for r in rows} == {due.pk, late_evening.pk}
    row = rows.get(booking=due, channel="sms")
    assert row.event_key == f"reminder:{due.reference}:{tomorrow.isoformat()}"
    cancel_url = row.context["links"]["cancel"]
    assert cancel_url.startswith("https://rtoslot.mp.gov.in/my/cancel/")
    token = cancel_url.removeprefix("https://rtoslot.mp.gov.in/my/cancel/").rstrip("/")
    assert one_tap_cancel_reference(token=token) == due.reference


def test_reminders_are_written_once(jabalpur_photo):
    now = local_dt(timezone.localdate(), 9)
    _booking_at(jabalpur_photo, local_dt(now.date() + timedelta(days=1), 10))
    assert notifications_write_reminders(now=now) == 2
    assert notifications_write_reminders(now=now) == 0
    assert Notification.objects.count() == 2


def test_retry_requeues_dead_and_failed_rows_only():
    dead = NotificationFactory(status="dead", attempts=8, last_error="HTTP 500")
    failed = NotificationFactory(status="failed", attempts=3)
    sent = NotificationFactory(status="sent", attempts=1)

    changed = notifications_retry(ids=[dead.pk, failed.pk, sent.pk])

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
    assert list(notifications_for_booking(booking=first.booking)) == [first, second]


def test_sql_rows_equal_python_rows(make_event, outage, hindi_applicant):
    """notifications_write_for_event_ids builds in PostgreSQL exactly the rows (and contexts)
    that notification_rows_for_events builds in Python."""
    from notifications.services import notifications_write_for_event_ids

    events = [
        make_event(kind="rescheduled", outage=outage, from_hour=9),
        make_event(applicant=hindi_applicant, kind="rescheduled", outage=outage, from_hour=11),
        make_event(applicant=ApplicantFactory(email=""), kind="needs_new_slot", outage=outage),
        make_event(kind="booked"),
    ]
    events[0].reason = "Server down"
    events[0].save(update_fields=["reason"])

    def key(row):
        return (row.event_key, row.channel, row.kind, row.language, row.recipient, row.booking_id)

    expected = {
        key(r): r.context
        for r in notification_rows_for_events(events=events, kind=Kind.RESCHEDULED_OUTAGE)
    }
    notifications_write_for_event_ids(
        event_ids=[e.pk for e in events], kind=Kind.RESCHEDULED_OUTAGE
    )
    written = {key(r): r.context for r in Notification.objects.all()}
    assert written == expected
    assert len(written) == 7  # four SMS, three e-mails (one applicant has none)
