"""Day-before reminders (slots/services/reminders.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification
from slots.links import one_tap_cancel_reference
from slots.models import Booking
from slots.services.reminders import reminders_write
from tests.factories import BookingFactory, SlotFactory, local_dt

Kind = Notification.Kind
pytestmark = pytest.mark.django_db


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

    written = reminders_write(now=now)

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
    assert reminders_write(now=now) == 2
    assert reminders_write(now=now) == 0
    assert Notification.objects.count() == 2
