"""A hypothesis state machine: random book / cancel / reschedule / slot generation sequences
with outages of every kind — known end, open-ended, partial — declared, extended (or made
open-ended), resolved and undone, each followed by its rescheduling run, and waiting-list
joins, offers, accepts, declines and expiries, with DESIGN.md's invariants (1–11) checked
against PostgreSQL after every step."""

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
from slots.models import Booking, Offer, Slot, WeeklySession
from slots.services.bookings import booking_cancel, booking_create, booking_reschedule
from slots.services.outage_undo import OutageUndoRefused, outage_undo
from slots.services.outages import outage_create, outage_resolve
from slots.services.outages import outage_extend as outage_extend_service
from slots.services.reschedule import outage_reschedule, outages_needing_a_run
from slots.services.slot_generation import slots_generate
from slots.services.waitlist import offer_accept, offer_decline, offers_sweep, waitlist_join
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
        # A booking is never accepted inside an active outage window (a partial outage's
        # slots stay bookable at their reduced capacity).
        if self.outage is not None and not self.outage.is_partial:
            assert not (
                self.outage.starts_at < booking.slot.ends_at
                and self.outage.window_end_at(timezone.now()) > booking.slot.starts_at
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
            errors.SlotNotForBooking,
        ):
            booking_reschedule(booking=booking, slot_id=target.pk)

    def _run(self):
        """What the workers do after each step: the reconcile finds each outage with work
        left (a new one is queued), and its run does it."""
        for outage_id in outages_needing_a_run():
            outage_reschedule(outage_id=outage_id)

    @precondition(lambda self: self.outage is None)
    @rule(
        which=st.integers(0, 20),
        kind=st.sampled_from(["known", "open", "partial", "open-partial"]),
        percent=st.integers(1, 99),
    )
    def outage_declare(self, which, kind, percent):
        slots = self._slots()
        if not slots:
            return
        slot = slots[which % len(slots)]
        self.outage = outage_create(
            offices=[self.offering.office],
            starts_at=slot.starts_at,
            expected_end=None if kind.startswith("open") else slot.ends_at,
            capacity_percent=percent if kind.endswith("partial") else 0,
            reason="down",
        )
        self._run()

    @precondition(lambda self: self.outage is not None)
    @rule(hours=st.sampled_from([None, 1, 24, 72]))
    def outage_extend(self, hours):
        self.outage.refresh_from_db()
        end = None if hours is None else self.outage.starts_at + timedelta(hours=hours)
        self.outage = outage_extend_service(outage=self.outage, expected_end=end)
        self._run()

    @precondition(lambda self: self.outage is not None)
    @rule()
    def outage_off(self):
        outage_resolve(outage=self.outage)
        self.outage = None
        self._run()

    @precondition(lambda self: self.outage is not None)
    @rule()
    def outage_false_alarm(self):
        self.outage.refresh_from_db()
        with contextlib.suppress(OutageUndoRefused):
            outage_undo(outage=self.outage)
            self.outage = None
        self._run()

    @rule(seats=st.integers(0, 3))
    def change_seats_and_generate(self, seats):
        self.session.seats_per_slot = seats
        self.session.save()
        slots_generate(days=8)
        self._run()  # the reconcile: new slots inside a partial outage are cut

    @rule(who=st.integers(0, 4), days=st.integers(0, 8))
    def waitlist_join(self, who, days):
        today = timezone.localdate()
        with contextlib.suppress(errors.AlreadyWaiting, errors.AlreadyBooked):
            waitlist_join(
                applicant=self.applicants[who],
                office=self.offering.office,
                service=self.offering.service,
                date_from=today,
                date_to=today + timedelta(days=days),
            )
        offers_sweep()

    def _open_offer(self, which):
        offers = list(Offer.objects.filter(state="open").order_by("pk"))
        return offers[which % len(offers)] if offers else None

    @rule(which=st.integers(0, 20))
    def offer_accept(self, which):
        offer = self._open_offer(which)
        if offer is None:
            return
        with contextlib.suppress(errors.OfferExpired, errors.AlreadyBooked, errors.SlotUnavailable):
            offer_accept(offer=offer, applicant=offer.applicant)

    @rule(which=st.integers(0, 20))
    def offer_decline(self, which):
        offer = self._open_offer(which)
        if offer is not None:
            offer_decline(offer=offer, applicant=offer.applicant)
            offers_sweep()

    @rule()
    def offers_expire(self):
        offers_sweep(now=timezone.now() + timedelta(minutes=31))

    @invariant()
    def database_invariants_hold(self):
        assert integrity_violations() == {}
        for slot in Slot.objects.filter(offering=self.offering):
            assert 0 <= slot.booked <= slot.capacity
            assert slot.booked + slot.held_offers <= slot.capacity  # invariant 11


def test_booking_engine_keeps_its_invariants():
    BookingMachine.TestCase.settings = settings(
        max_examples=30,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    BookingMachine.TestCase().runTest()
