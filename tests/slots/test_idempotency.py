from datetime import timedelta

import pytest
from django.utils import timezone

from slots import errors
from slots.models import Booking
from slots.services.bookings import booking_create_idempotent
from tests.factories import ApplicantFactory, SlotFactory, local_dt

pytestmark = pytest.mark.django_db


@pytest.fixture
def slot(bhopal_photo):
    return SlotFactory(
        offering=bhopal_photo,
        starts_at=local_dt(timezone.localdate() + timedelta(days=3), 10),
        capacity=1,
    )


def test_repeated_key_returns_the_first_booking(applicant, slot):
    first = booking_create_idempotent(applicant=applicant, slot_id=slot.pk, key="k1")
    again = booking_create_idempotent(applicant=applicant, slot_id=slot.pk, key="k1")
    assert first[0] == again[0] == 201
    assert first[1].pk == again[1].pk
    assert Booking.objects.count() == 1


def test_repeated_key_repeats_a_refusal_too(slot):
    booking_create_idempotent(applicant=ApplicantFactory(), slot_id=slot.pk, key="a")
    late = ApplicantFactory()
    first = booking_create_idempotent(applicant=late, slot_id=slot.pk, key="k2")
    assert first[0] == 409 and first[2]["code"] == "slot_full"
    assert booking_create_idempotent(applicant=late, slot_id=slot.pk, key="k2") == first


def test_keys_belong_to_one_applicant(slot, bhopal_photo):
    other_slot = SlotFactory(
        offering=bhopal_photo, starts_at=slot.starts_at + timedelta(hours=1), capacity=5
    )
    a = booking_create_idempotent(applicant=ApplicantFactory(), slot_id=other_slot.pk, key="k")
    b = booking_create_idempotent(applicant=ApplicantFactory(), slot_id=other_slot.pk, key="k")
    assert a[1].pk != b[1].pk


def test_same_key_for_a_different_request_is_refused(applicant, slot, bhopal_photo):
    other_slot = SlotFactory(offering=bhopal_photo, starts_at=slot.starts_at + timedelta(hours=1))
    booking_create_idempotent(applicant=applicant, slot_id=slot.pk, key="k3")
    with pytest.raises(errors.IdempotencyKeyReused):
        booking_create_idempotent(applicant=applicant, slot_id=other_slot.pk, key="k3")
