"""BookingOutSerializer writes its output by hand (it is the body of every booking answer and
of the booking burst); it must render exactly what its declared fields would."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from api.serializers import BookingOutSerializer
from notifications.models import Notification
from slots.models import Booking, BookingEvent, Outage
from slots.services.bookings import booking_cancel, booking_create, booking_reschedule
from tests.factories import (
    ApplicantFactory,
    BookingEventFactory,
    BookingFactory,
    NotificationFactory,
    SlotFactory,
)

pytestmark = pytest.mark.django_db


def by_declared_fields(booking) -> dict:
    """DRF's generic rendering: every declared field, walked the usual way."""
    return serializers.Serializer.to_representation(BookingOutSerializer(), booking)


def rendered_both_ways(booking):
    booking = (
        Booking.objects.select_related("slot", "office", "service")
        .prefetch_related("events", "notifications")
        .get(pk=booking.pk)
    )
    return BookingOutSerializer(booking).data, by_declared_fields(booking)


def test_a_new_booking_renders_as_its_declared_fields(bhopal_slot):
    booking = booking_create(applicant=ApplicantFactory(), slot_id=bhopal_slot.pk)
    # As the API answers it: straight from memory, no read-back.
    assert BookingOutSerializer(booking).data == by_declared_fields(booking)
    fast, generic = rendered_both_ways(booking)
    assert fast == generic
    assert fast["status"] == "confirmed" and len(fast["notifications"]) >= 1


def test_moved_cancelled_outage_and_sent_bookings_render_as_declared(bhopal_slot, bhopal_photo):
    later = SlotFactory(offering=bhopal_photo, starts_at=bhopal_slot.starts_at + timedelta(days=1))
    booking = booking_create(applicant=ApplicantFactory(), slot_id=bhopal_slot.pk)
    booking = booking_reschedule(booking=booking, slot_id=later.pk)
    booking = booking_cancel(booking=booking)

    outage = Outage.objects.create(
        expected_end=timezone.now() + timedelta(hours=4), reason="Licence server down"
    )
    moved = BookingFactory(priority=True, slot=later)
    BookingEventFactory(
        booking=moved,
        kind=BookingEvent.Kind.NEEDS_NEW_SLOT,
        actor=BookingEvent.Actor.SYSTEM,
        from_slot=later,
        from_starts_at=later.starts_at,
        to_slot=None,
        to_starts_at=None,
        outage=outage,
        reason="सर्वर बंद",
    )
    NotificationFactory(
        booking=moved,
        channel=Notification.Channel.EMAIL,
        status=Notification.Status.SENT,
        sent_at=timezone.now(),
    )
    NotificationFactory(booking=moved)

    for each in (booking, moved):
        fast, generic = rendered_both_ways(each)
        assert fast == generic
    fast, _ = rendered_both_ways(moved)
    assert fast["priority"] is True
    assert fast["history"][-1]["outage"] == outage.pk
    assert fast["history"][-1]["to_starts_at"] is None


def test_times_in_utc_are_written_with_z_as_drf_does(bhopal_slot):
    booking = booking_create(applicant=ApplicantFactory(), slot_id=bhopal_slot.pk)
    with timezone.override("UTC"):
        fast, generic = rendered_both_ways(booking)
    assert fast == generic
    assert fast["slot"]["starts_at"].endswith("Z")


def test_a_new_booking_is_answered_without_reading_it_back(bhopal_slot, django_assert_num_queries):
    booking = booking_create(applicant=ApplicantFactory(), slot_id=bhopal_slot.pk)
    with django_assert_num_queries(0):
        body = BookingOutSerializer(booking).data
    assert [event["kind"] for event in body["history"]] == ["booked"]
    assert sorted(row["channel"] for row in body["notifications"]) == ["email", "sms"]
