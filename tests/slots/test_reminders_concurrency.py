"""Confirm or release under concurrency: real threads, each with its own PostgreSQL connection,
on committed data. Two release runs and the applicants' "I'll come" at the same moment."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification
from slots.models import Booking, BookingEvent, Slot
from slots.services.bookings import booking_attendance_confirm, booking_create
from slots.services.reminders import last_calls_write, reminders_write, unconfirmed_release
from tests.factories import ApplicantFactory, SlotFactory
from tests.slots.test_concurrency import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_release_runs_and_confirmations_at_once_release_each_unconfirmed_booking_once(
    bhopal_photo, settings
):
    settings.RELEASE_UNCONFIRMED = True
    now = timezone.now()
    start = (now + timedelta(hours=11)).replace(second=0, microsecond=0)
    slot = SlotFactory(
        offering=bhopal_photo, starts_at=start, ends_at=start + timedelta(minutes=30), capacity=20
    )
    bookings = []
    for _ in range(12):
        booking = booking_create(applicant=ApplicantFactory(email=""), slot_id=slot.pk, now=now)
        bookings.append(booking)
    Booking.objects.filter(slot=slot).update(created_at=start - timedelta(days=10))
    reminders_write(now=start - timedelta(hours=48))
    # Two last-call runs at once: one last call each, never two.
    run_in_threads(2, lambda i: last_calls_write(now=start - timedelta(hours=12)))
    assert Notification.objects.filter(kind=Notification.Kind.LAST_CALL).count() == 12

    release_at = start - timedelta(hours=12) + timedelta(minutes=121)
    confirming = bookings[:6]

    def act(i):
        if i < 2:
            return unconfirmed_release(now=release_at)
        return booking_attendance_confirm(booking=confirming[i - 2])

    run_in_threads(2 + len(confirming), act)
    rows = list(Booking.objects.filter(slot=slot))
    released = BookingEvent.objects.filter(kind=BookingEvent.Kind.RELEASED)
    for booking in rows:
        kinds = Counter(booking.events.values_list("kind", flat=True))
        if booking.confirmed_at is not None:
            assert booking.status == Booking.Status.CONFIRMED and not kinds["released"]
            assert kinds["confirmed"] == 1
        else:
            assert booking.status == Booking.Status.CANCELLED and kinds["released"] == 1
    assert released.count() == sum(1 for b in rows if b.confirmed_at is None) >= 6
    assert Notification.objects.filter(kind=Notification.Kind.RELEASED).count() == released.count()
    still = sum(1 for b in rows if b.status == Booking.Status.CONFIRMED)
    assert Slot.objects.get(pk=slot.pk).booked == still
