"""Hammer tests: real threads, each with its own PostgreSQL connection, on committed data."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from slots import errors
from slots.integrity import integrity_violations
from slots.models import Booking, IdempotencyKey, Slot
from slots.services.bookings import (
    booking_cancel,
    booking_create,
    booking_create_idempotent,
    booking_reschedule,
)
from tests.factories import ApplicantFactory, SlotFactory, local_dt

pytestmark = pytest.mark.django_db(transaction=True)


def run_in_threads(count: int, target) -> list:
    """Start `count` threads at once (a barrier), each calling target(i); return results."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(i):
        try:
            barrier.wait(timeout=30)
            results[i] = target(i)
        except Exception as error:  # the outcome under test, collected per thread
            results[i] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def outcome(result) -> str:
    if isinstance(result, Booking):
        return "booked"
    if isinstance(result, errors.BookingError):
        return result.code
    return f"unexpected: {result!r}"


@pytest.fixture
def future_slot(bhopal_photo):
    def make(capacity, booked=0, days=3):
        return SlotFactory(
            offering=bhopal_photo,
            starts_at=local_dt(timezone.localdate() + timedelta(days=days), 11),
            capacity=capacity,
            booked=booked,
        )

    return make


@pytest.mark.parametrize(("free", "clients"), [(1, 50), (5, 60)])
def test_last_seats_go_to_exactly_that_many_clients(future_slot, free, clients):
    slot = future_slot(capacity=40)
    # Fill the slot up to its last `free` seats with real bookings.
    for _ in range(40 - free):
        booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    applicants = ApplicantFactory.create_batch(clients)

    results = run_in_threads(
        clients, lambda i: booking_create(applicant=applicants[i], slot_id=slot.pk)
    )

    counts = Counter(outcome(r) for r in results)
    assert counts == {"booked": free, "slot_full": clients - free}
    slot.refresh_from_db()
    assert slot.booked == 40 == Booking.objects.filter(slot=slot, status="confirmed").count()
    assert integrity_violations() == {}


def test_one_applicant_hammering_gets_one_booking(future_slot):
    slot = future_slot(capacity=30)
    applicant = ApplicantFactory()
    results = run_in_threads(30, lambda i: booking_create(applicant=applicant, slot_id=slot.pk))
    counts = Counter(outcome(r) for r in results)
    assert counts["booked"] == 1
    assert counts["booked"] + counts["already_booked"] == 30
    slot.refresh_from_db()
    assert slot.booked == 1
    assert integrity_violations() == {}


def test_concurrent_retries_with_one_idempotency_key_book_once(future_slot):
    slot = future_slot(capacity=10)
    applicant = ApplicantFactory()

    def retry(_i):
        return booking_create_idempotent(applicant=applicant, slot_id=slot.pk, key="retry-key-1")

    results = run_in_threads(50, retry)
    assert all(isinstance(r, tuple) for r in results), results
    references = {booking.reference for status, booking, _body in results}
    assert {status for status, _b, _body in results} == {201}
    assert len(references) == 1
    assert Booking.objects.filter(applicant=applicant).count() == 1
    assert IdempotencyKey.objects.filter(applicant=applicant).count() == 1
    slot.refresh_from_db()
    assert slot.booked == 1


def test_cancel_and_book_race_never_overbooks(future_slot):
    slot = future_slot(capacity=5)
    holders = [booking_create(applicant=ApplicantFactory(), slot_id=slot.pk) for _ in range(5)]
    newcomers = ApplicantFactory.create_batch(20)

    def act(i):
        if i < 5:
            return booking_cancel(booking=holders[i])
        return booking_create(applicant=newcomers[i - 5], slot_id=slot.pk)

    run_in_threads(25, act)
    slot.refresh_from_db()
    assert slot.booked <= slot.capacity
    assert slot.booked == Booking.objects.filter(slot=slot, status="confirmed").count()
    assert integrity_violations() == {}


def test_crossing_reschedules_do_not_deadlock_or_leak_seats(bhopal_photo):
    day = timezone.localdate() + timedelta(days=3)
    a = SlotFactory(offering=bhopal_photo, starts_at=local_dt(day, 10), capacity=20)
    b = SlotFactory(offering=bhopal_photo, starts_at=local_dt(day, 11), capacity=20)
    in_a = [booking_create(applicant=ApplicantFactory(), slot_id=a.pk) for _ in range(10)]
    in_b = [booking_create(applicant=ApplicantFactory(), slot_id=b.pk) for _ in range(10)]

    def act(i):
        if i < 10:
            return booking_reschedule(booking=in_a[i], slot_id=b.pk)
        return booking_reschedule(booking=in_b[i - 10], slot_id=a.pk)

    results = run_in_threads(20, act)
    assert all(isinstance(r, Booking) for r in results), results
    assert Slot.objects.get(pk=a.pk).booked == 10
    assert Slot.objects.get(pk=b.pk).booked == 10
    assert integrity_violations() == {}


def test_suite_uses_postgresql():
    assert connection.vendor == "postgresql"
