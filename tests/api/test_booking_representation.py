"""A new booking is answered from the rows its service has just written, without reading them
back: the answer must be exactly what a later read of the same booking shows."""

import pytest
from django.utils import timezone

from api.selectors import booking_get
from api.serializers import BookingOutSerializer
from slots.services.bookings import booking_attendance_confirm, booking_create
from tests.factories import ApplicantFactory

pytestmark = pytest.mark.django_db


def test_a_new_booking_is_answered_without_reading_it_back(bhopal_slot, django_assert_num_queries):
    booking = booking_create(applicant=ApplicantFactory(), slot_id=bhopal_slot.pk)
    with django_assert_num_queries(0):
        body = BookingOutSerializer(booking).data
    assert [event["kind"] for event in body["history"]] == ["booked"]
    assert sorted(row["channel"] for row in body["notifications"]) == ["email", "sms"]
    assert body == BookingOutSerializer(booking_get(pk=booking.pk)).data


def test_times_in_utc_are_written_with_z_as_drf_does(bhopal_slot):
    booking = booking_create(applicant=ApplicantFactory(email=""), slot_id=bhopal_slot.pk)
    with timezone.override("UTC"):
        fresh = BookingOutSerializer(booking).data
        read_back = BookingOutSerializer(booking_get(pk=booking.pk)).data
    assert fresh == read_back
    assert fresh["slot"]["starts_at"].endswith("Z")


def test_a_booking_shows_when_its_applicant_confirmed_they_will_come(
    applicant_api, bhopal_slot, applicant
):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    booking_attendance_confirm(booking=booking)
    body = applicant_api.get(f"/api/v1/bookings/{booking.reference}/").json()
    assert body["confirmed_at"].endswith("+05:30")
    assert body["status"] == "confirmed"
    assert [event["kind"] for event in body["history"]] == ["booked", "confirmed"]
