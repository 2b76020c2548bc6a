"""A hypothesis state machine: random book / cancel / reschedule / outage on-off / slot
generation sequences, with DESIGN.md's invariants checked against PostgreSQL after every step."""

from __future__ import annotations

import contextlib
from datetime import time, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from slots import errors
from slots.integrity import integrity_violations
from slots.models import Booking, Outage, Slot, WeeklySession
from slots.services.bookings import booking_cancel, booking_create, booking_reschedule
from slots.services.slot_generation import slots_generate
from tests.factories import ApplicantFactory, OfferingFactory, OfficeFactory, ServiceFactory

pytestmark = pytest.mark.django_db


class BookingMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        office = OfficeFactory(code="MP-99")
        service = ServiceFactory(slug="photo-biometrics")
        self.offering = OfferingFactory(office=office, service=service)
        self.session = WeeklySession.objects.create(
            offering=self.offering,
            weekday=(timezone.localdate() + timedelta(days=2)).weekday(),
            start_time=time(10, 0),
            end_time=time(11, 30),
            slot_minutes=30,
            seats_per_slot=2,
            priority_reserve=0,
        )
        slots_generate(days=8)
        self.applicants = ApplicantFactory.create_batch(5)
        self.outage = None

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _slots(self):
        return list(Slot.objects.filter(offering=self.offering).order_by("starts_at"))

    @rule(who=st.integers(0, 4), which=st.integers(0, 20))
    def book(self, who, which):
        slots = self._slots()
        if not slots:
            return
        slot = slots[which % len(slots)]
        try:
            booking = booking_create(applicant=self.applicants[who], slot_id=slot.pk)
        except (errors.SlotFull, errors.AlreadyBooked, errors.SlotUnavailable):
            return
        # A booking is never accepted inside an active outage window.
        if self.outage is not None:
            assert not (
                self.outage.starts_at < booking.slot.ends_at
                and self.outage.expected_end > booking.slot.starts_at
            )

    @rule(which=st.integers(0, 20))
    def cancel(self, which):
        active = list(Booking.objects.filter(status__in=Booking.ACTIVE).order_by("pk"))
        if active:
            booking_cancel(booking=active[which % len(active)])

    @rule(which=st.integers(0, 20), target_index=st.integers(0, 20))
    def reschedule(self, which, target_index):
        active = list(Booking.objects.filter(status__in=Booking.ACTIVE).order_by("pk"))
        slots = self._slots()
        if not active or not slots:
            return
        booking = active[which % len(active)]
        target = slots[target_index % len(slots)]
        with contextlib.suppress(
            errors.SlotFull,
            errors.SlotUnavailable,
            errors.RescheduleLimitReached,
            errors.InvalidSlotChoice,
        ):
            booking_reschedule(booking=booking, slot_id=target.pk)

    @precondition(lambda self: self.outage is None)
    @rule(which=st.integers(0, 20))
    def outage_on(self, which):
        slots = self._slots()
        if not slots:
            return
        slot = slots[which % len(slots)]
        self.outage = Outage.objects.create(
            reason="down", starts_at=slot.starts_at, expected_end=slot.ends_at
        )
        self.outage.offices.add(self.offering.office)

    @precondition(lambda self: self.outage is not None)
    @rule()
    def outage_off(self):
        self.outage.resolved_at = timezone.now()
        self.outage.save()
        self.outage = None

    @rule(seats=st.integers(0, 3))
    def change_seats_and_generate(self, seats):
        self.session.seats_per_slot = seats
        self.session.save()
        slots_generate(days=8)

    @invariant()
    def database_invariants_hold(self):
        assert integrity_violations() == {}
        for slot in Slot.objects.filter(offering=self.offering):
            assert 0 <= slot.booked <= slot.capacity


def test_booking_engine_keeps_its_invariants():
    BookingMachine.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    BookingMachine.TestCase().runTest()
