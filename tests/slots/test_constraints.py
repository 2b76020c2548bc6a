"""The invariants that PostgreSQL itself enforces, proven by bypassing model validation."""

import pytest
from django.db import IntegrityError, connection, transaction

from slots.models import Booking, Slot
from tests.factories import ApplicantFactory, SlotFactory

pytestmark = pytest.mark.django_db


def _raises_integrity(sql: str, params: list) -> None:
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_database_rejects_booked_above_capacity(bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, capacity=2)
    _raises_integrity("UPDATE slots_slot SET booked = 3 WHERE id = %s", [slot.pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(booked=3)


def test_database_rejects_negative_booked(bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, capacity=2)
    _raises_integrity("UPDATE slots_slot SET booked = -1 WHERE id = %s", [slot.pk])


def test_database_rejects_priority_reserve_above_capacity(bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, capacity=2)
    _raises_integrity("UPDATE slots_slot SET priority_reserve = 3 WHERE id = %s", [slot.pk])


def test_database_rejects_two_slots_for_one_offering_and_start(bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo)
    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.bulk_create(
            [
                Slot(
                    offering=bhopal_photo,
                    office=slot.office,
                    service=slot.service,
                    starts_at=slot.starts_at,
                    ends_at=slot.ends_at,
                    capacity=5,
                )
            ]
        )


def _booking(slot, applicant, reference, status="confirmed"):
    return Booking(
        reference=reference,
        applicant=applicant,
        slot=slot,
        office=slot.office,
        service=slot.service,
        status=status,
    )


def test_database_rejects_second_active_booking_for_same_service(bhopal_photo):
    applicant = ApplicantFactory()
    first = SlotFactory(offering=bhopal_photo)
    second = SlotFactory(offering=bhopal_photo, starts_at=first.ends_at)
    Booking.objects.bulk_create([_booking(first, applicant, "AAAAAAAAAA")])
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.bulk_create([_booking(second, applicant, "BBBBBBBBBB")])
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.bulk_create(
            [_booking(second, applicant, "CCCCCCCCCC", status="needs_new_slot")]
        )


def test_inactive_bookings_do_not_block_a_new_one(bhopal_photo):
    applicant = ApplicantFactory()
    first = SlotFactory(offering=bhopal_photo)
    second = SlotFactory(offering=bhopal_photo, starts_at=first.ends_at)
    Booking.objects.bulk_create(
        [
            _booking(first, applicant, "AAAAAAAAAA", status="cancelled"),
            _booking(first, applicant, "DDDDDDDDDD", status="attended"),
            _booking(second, applicant, "BBBBBBBBBB"),
        ]
    )
    assert Booking.objects.filter(applicant=applicant).count() == 3


def test_database_rejects_duplicate_reference(bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo)
    Booking.objects.bulk_create([_booking(slot, ApplicantFactory(), "AAAAAAAAAA")])
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.bulk_create([_booking(slot, ApplicantFactory(), "AAAAAAAAAA")])


def test_runs_on_postgresql():
    # The invariants above are only proven if the suite really talks to PostgreSQL.
    assert connection.vendor == "postgresql"
