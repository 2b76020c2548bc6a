"""Waiting-list offers under real threads, each with its own PostgreSQL connection."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from slots.integrity import integrity_violations
from slots.models import Booking, Offer, Slot
from slots.services.bookings import booking_cancel, booking_create
from slots.services.waitlist import offer_accept, offers_make, waitlist_join
from tests.factories import ApplicantFactory, SlotFactory, local_dt
from tests.slots.test_concurrency import outcome, run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def offered(bhopal_photo):
    """A one-seat slot whose seat was freed and offered to a waiting applicant."""
    slot = SlotFactory(
        offering=bhopal_photo,
        starts_at=local_dt(timezone.localdate() + timedelta(days=3), 11),
        capacity=1,
    )
    holder = booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    waiting = ApplicantFactory()
    day = timezone.localdate(slot.starts_at)
    waitlist_join(
        applicant=waiting, office=slot.office, service=slot.service, date_from=day, date_to=day
    )
    booking_cancel(booking=holder)  # commits: its task (eager in tests) makes the offer
    offers_make(office_id=slot.office_id, service_id=slot.service_id)  # idempotent
    offer = Offer.objects.get(state="open")
    return slot, offer, waiting


def test_concurrent_accepts_of_one_offer_make_one_booking(offered):
    slot, offer, waiting = offered

    results = run_in_threads(20, lambda _i: offer_accept(offer=offer, applicant=waiting))

    assert Counter(outcome(r) for r in results) == {"booked": 20}, results
    assert len({r.pk for r in results}) == 1  # every tap got the same booking
    assert Booking.objects.filter(applicant=waiting).count() == 1
    slot.refresh_from_db()
    assert (slot.booked, slot.held_offers) == (1, 0)
    assert integrity_violations() == {}


def test_a_held_seat_is_safe_from_a_crowd_of_bookers_and_an_accept(offered):
    slot, offer, waiting = offered
    crowd = ApplicantFactory.create_batch(20)

    def act(i):
        if i == 0:
            return offer_accept(offer=offer, applicant=waiting)
        return booking_create(applicant=crowd[i - 1], slot_id=slot.pk)

    results = run_in_threads(21, act)

    assert outcome(results[0]) == "booked"
    assert Counter(outcome(r) for r in results[1:]) == {"slot_full": 20}
    slot.refresh_from_db()
    assert slot.booked + slot.held_offers <= slot.capacity
    assert Offer.objects.get().state == "accepted"
    assert integrity_violations() == {}


def test_concurrent_offer_runs_never_offer_one_seat_twice(bhopal_photo):
    slot = SlotFactory(
        offering=bhopal_photo,
        starts_at=local_dt(timezone.localdate() + timedelta(days=3), 11),
        capacity=3,
        booked=0,
    )
    day = timezone.localdate(slot.starts_at)
    for applicant in ApplicantFactory.create_batch(6):
        waitlist_join(
            applicant=applicant,
            office=slot.office,
            service=slot.service,
            date_from=day,
            date_to=day,
        )
    Offer.objects.all().delete()  # joining may have offered already: start from none
    Slot.objects.filter(pk=slot.pk).update(held_offers=0)
    from slots.models import WaitlistEntry

    WaitlistEntry.objects.update(state="waiting")

    run_in_threads(8, lambda _i: offers_make(office_id=slot.office_id, service_id=slot.service_id))

    slot.refresh_from_db()
    assert Offer.objects.filter(state="open").count() == slot.held_offers == 3
    assert integrity_violations() == {}
