from datetime import UTC, date, datetime, time, timedelta

import pytest

from slots.models import Booking, Closure, ExtraSession, Slot
from slots.services.slot_generation import slots_generate
from tests.factories import ApplicantFactory, WeeklySessionFactory

pytestmark = pytest.mark.django_db

MONDAY = date(2030, 1, 7)  # a Monday far from today's slots


def _session(offering, **kwargs):
    defaults = {
        "weekday": 0,
        "start_time": time(10, 0),
        "end_time": time(13, 30),
        "slot_minutes": 30,
        "seats_per_slot": 10,
        "priority_reserve": 2,
    }
    defaults.update(kwargs)
    return WeeklySessionFactory(offering=offering, **defaults)


def test_sessions_become_slots_stored_in_utc(bhopal_photo):
    _session(bhopal_photo)
    slots_generate(days=7, first_day=MONDAY)
    slots = list(Slot.objects.filter(offering=bhopal_photo).order_by("starts_at"))
    assert len(slots) == 7  # 10:00–13:30 in 30-minute slots
    first = slots[0]
    # 10:00 in Asia/Kolkata is 04:30 UTC.
    assert first.starts_at.astimezone(UTC) == datetime(2030, 1, 7, 4, 30, tzinfo=UTC)
    assert first.ends_at - first.starts_at == timedelta(minutes=30)
    assert (first.capacity, first.booked, first.priority_reserve) == (10, 0, 2)
    assert slots[-1].ends_at.astimezone(UTC) == datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


def test_only_the_sessions_weekdays_get_slots(bhopal_photo):
    _session(bhopal_photo, weekday=2)  # Wednesday
    slots_generate(days=14, first_day=MONDAY)
    days = {s.starts_at.date() for s in Slot.objects.filter(offering=bhopal_photo)}
    assert days == {date(2030, 1, 9), date(2030, 1, 16)}


def test_closures_skip_the_office_day_or_one_service(bhopal_photo, bhopal, learner):
    _session(bhopal_photo)
    learner_offering = bhopal_photo.__class__.objects.create(office=bhopal, service=learner)
    _session(learner_offering)
    Closure.objects.create(office=bhopal, date=MONDAY, reason="Holiday")
    Closure.objects.create(
        office=bhopal, service=learner, date=MONDAY + timedelta(days=7), reason="Track repair"
    )
    slots_generate(days=14, first_day=MONDAY)
    photo_days = {s.starts_at.date() for s in Slot.objects.filter(offering=bhopal_photo)}
    learner_days = {s.starts_at.date() for s in Slot.objects.filter(offering=learner_offering)}
    assert photo_days == {MONDAY + timedelta(days=7)}
    assert learner_days == set()


def test_generation_is_idempotent(bhopal_photo):
    _session(bhopal_photo)
    first = slots_generate(days=14, first_day=MONDAY)
    before = list(Slot.objects.values_list("pk", "starts_at", "capacity").order_by("pk"))
    second = slots_generate(days=14, first_day=MONDAY)
    after = list(Slot.objects.values_list("pk", "starts_at", "capacity").order_by("pk"))
    assert first.created == 14
    assert (second.created, second.updated, second.deleted) == (0, 0, 0)
    assert before == after


def test_smaller_sessions_never_shrink_a_slot_below_its_bookings(bhopal_photo):
    session = _session(bhopal_photo, seats_per_slot=10)
    slots_generate(days=1, first_day=MONDAY)
    slot = Slot.objects.filter(offering=bhopal_photo).order_by("starts_at").first()
    applicants = ApplicantFactory.create_batch(6)
    Booking.objects.bulk_create(
        [
            Booking(
                reference=f"REF{i:07d}",
                applicant=a,
                slot=slot,
                office=slot.office,
                service=slot.service,
            )
            for i, a in enumerate(applicants)
        ]
    )
    Slot.objects.filter(pk=slot.pk).update(booked=6)
    session.seats_per_slot = 4
    session.priority_reserve = 1
    session.save()
    slots_generate(days=1, first_day=MONDAY)
    slot.refresh_from_db()
    assert (slot.capacity, slot.booked) == (6, 6)
    other = Slot.objects.filter(offering=bhopal_photo).exclude(pk=slot.pk).first()
    assert other.capacity == 4


def test_removed_session_keeps_booked_slots_and_drops_empty_ones(bhopal_photo):
    session = _session(bhopal_photo)
    slots_generate(days=1, first_day=MONDAY)
    slot = Slot.objects.filter(offering=bhopal_photo).order_by("starts_at").first()
    Booking.objects.create(
        reference="REF0000001",
        applicant=ApplicantFactory(),
        slot=slot,
        office=slot.office,
        service=slot.service,
    )
    Slot.objects.filter(pk=slot.pk).update(booked=1)
    session.delete()
    result = slots_generate(days=1, first_day=MONDAY)
    assert list(Slot.objects.filter(offering=bhopal_photo)) == [slot]
    slot.refresh_from_db()
    assert (slot.capacity, slot.booked) == (1, 1)  # kept, but takes nobody new
    assert result.deleted == 6


def test_extra_sessions_add_recovery_capacity(bhopal_photo):
    ExtraSession.objects.create(
        offering=bhopal_photo,
        date=MONDAY + timedelta(days=6),  # a Sunday
        start_time=time(9, 0),
        end_time=time(11, 0),
        slot_minutes=30,
        seats_per_slot=20,
        priority_reserve=5,
    )
    slots_generate(days=7, first_day=MONDAY)
    slots = Slot.objects.filter(offering=bhopal_photo)
    assert slots.count() == 4
    assert {(s.capacity, s.priority_reserve) for s in slots} == {(20, 5)}


def test_removed_session_keeps_a_slot_held_for_an_offer_and_one_an_offer_named(bhopal_photo):
    from slots.models import Offer, WaitlistEntry

    session = _session(bhopal_photo)
    slots_generate(days=1, first_day=MONDAY)
    held, answered = Slot.objects.filter(offering=bhopal_photo).order_by("starts_at")[:2]
    entry = WaitlistEntry.objects.create(
        applicant=ApplicantFactory(),
        office=held.office,
        service=held.service,
        date_from=MONDAY,
        date_to=MONDAY,
        state="offered",
    )
    Offer.objects.create(
        entry=entry, slot=held, applicant=entry.applicant, expires_at=held.starts_at
    )
    Slot.objects.filter(pk=held.pk).update(held_offers=1)
    Offer.objects.create(
        entry=entry,
        slot=answered,
        applicant=entry.applicant,
        expires_at=answered.starts_at,
        state="declined",
    )
    session.delete()
    slots_generate(days=1, first_day=MONDAY)  # no ProtectedError: both slots stay
    held.refresh_from_db()
    answered.refresh_from_db()
    assert (held.capacity, held.booked, held.held_offers) == (1, 0, 1)
    assert answered.capacity == 0
