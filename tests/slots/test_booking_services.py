"""Booking use cases and every rule with its error code."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from slots import errors
from slots.models import Booking, Closure, Outage, Slot
from slots.references import REFERENCE_ALPHABET
from slots.services.bookings import (
    booking_cancel,
    booking_check_in,
    booking_create,
    booking_mark_no_show,
    booking_reschedule,
    bookings_mark_no_shows,
)
from tests.factories import ApplicantFactory, OfferingFactory, SlotFactory, local_dt

pytestmark = pytest.mark.django_db


def days_ahead(n: int, hour: int = 10, minute: int = 0):
    return local_dt(timezone.localdate() + timedelta(days=n), hour, minute)


@pytest.fixture
def slot(bhopal_photo):
    return SlotFactory(offering=bhopal_photo, starts_at=days_ahead(3), capacity=3)


@pytest.fixture
def later_slot(bhopal_photo):
    return SlotFactory(offering=bhopal_photo, starts_at=days_ahead(4), capacity=3)


def test_booking_takes_a_seat_and_records_history(applicant, slot):
    booking = booking_create(applicant=applicant, slot_id=slot.pk)
    slot.refresh_from_db()
    assert slot.booked == 1
    assert booking.status == Booking.Status.CONFIRMED
    assert not booking.priority
    assert len(booking.reference) == 10
    assert set(booking.reference) <= set(REFERENCE_ALPHABET)
    assert not set("0O1IL") & set(REFERENCE_ALPHABET)
    (event,) = booking.events.all()
    assert (event.kind, event.to_slot_id, event.actor) == ("booked", slot.pk, "applicant")


def test_booking_writes_its_confirmation_to_the_outbox(applicant, slot):
    booking = booking_create(applicant=applicant, slot_id=slot.pk)
    channels = sorted(booking.notifications.values_list("channel", "kind"))
    assert channels == [("email", "booking_confirmed"), ("sms", "booking_confirmed")]


def test_references_are_unique_and_unpredictable(bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, starts_at=days_ahead(3), capacity=40)
    refs = {
        booking_create(applicant=ApplicantFactory(), slot_id=slot.pk).reference for _ in range(30)
    }
    assert len(refs) == 30


def test_full_slot_answers_slot_full(slot):
    for _ in range(3):
        booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    with pytest.raises(errors.SlotFull) as info:
        booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    assert info.value.code == "slot_full"
    slot.refresh_from_db()
    assert slot.booked == 3


def test_second_active_booking_for_a_service_answers_already_booked(applicant, slot, later_slot):
    booking_create(applicant=applicant, slot_id=slot.pk)
    with pytest.raises(errors.AlreadyBooked):
        booking_create(applicant=applicant, slot_id=later_slot.pk)
    later_slot.refresh_from_db()
    assert later_slot.booked == 0


def test_another_service_may_be_booked_alongside(applicant, slot, bhopal, learner):
    booking_create(applicant=applicant, slot_id=slot.pk)
    other = SlotFactory(offering=OfferingFactory(office=bhopal, service=learner))
    assert booking_create(applicant=applicant, slot_id=other.pk).service == learner


@pytest.mark.parametrize(
    ("starts", "message"),
    [
        (lambda: timezone.now() - timedelta(hours=1), "passed"),
        (lambda: timezone.now() + timedelta(minutes=90), "too soon"),
        (lambda: days_ahead(45), "not open yet"),
    ],
)
def test_slots_outside_the_booking_window_are_unavailable(applicant, bhopal_photo, starts, message):
    slot = SlotFactory(offering=bhopal_photo, starts_at=starts())
    with pytest.raises(errors.SlotUnavailable) as info:
        booking_create(applicant=applicant, slot_id=slot.pk)
    assert info.value.code == "slot_unavailable"
    assert message in str(info.value.message)


def test_slot_on_a_closed_day_is_unavailable(applicant, slot, bhopal):
    Closure.objects.create(office=bhopal, date=timezone.localdate(slot.starts_at), reason="Holi")
    with pytest.raises(errors.SlotUnavailable, match="closed"):
        booking_create(applicant=applicant, slot_id=slot.pk)


def test_slot_of_an_inactive_office_is_unavailable(applicant, slot, bhopal):
    bhopal.is_active = False
    bhopal.save()
    with pytest.raises(errors.SlotUnavailable):
        booking_create(applicant=applicant, slot_id=slot.pk)


def test_slot_inside_an_active_outage_is_unavailable(applicant, slot, bhopal, photo):
    outage = Outage.objects.create(
        reason="Photo server down",
        starts_at=slot.starts_at - timedelta(hours=1),
        expected_end=slot.starts_at + timedelta(hours=1),
    )
    outage.offices.add(bhopal)  # no services named: every service is down
    with pytest.raises(errors.SlotUnavailable, match="down"):
        booking_create(applicant=applicant, slot_id=slot.pk)
    outage.resolved_at = timezone.now()
    outage.save()
    assert booking_create(applicant=applicant, slot_id=slot.pk).slot_id == slot.pk


def test_outage_of_another_service_does_not_block(applicant, slot, bhopal, learner):
    outage = Outage.objects.create(
        reason="Learner test server down",
        starts_at=slot.starts_at - timedelta(hours=1),
        expected_end=slot.starts_at + timedelta(hours=1),
    )
    outage.offices.add(bhopal)
    outage.services.add(learner)
    assert booking_create(applicant=applicant, slot_id=slot.pk)


def test_unknown_slot_is_invalid(applicant):
    with pytest.raises(errors.SlotNotFound) as info:
        booking_create(applicant=applicant, slot_id=987654321)
    assert (info.value.code, info.value.status) == ("invalid", 400)
    with pytest.raises(errors.SlotNotFound):
        booking_create(applicant=applicant, slot_id="abc")


def test_priority_reserve_is_held_until_release_time(bhopal_photo, settings):
    settings.PRIORITY_RESERVE_RELEASE_HOURS = 48
    far = SlotFactory(
        offering=bhopal_photo, starts_at=days_ahead(5), capacity=2, priority_reserve=1
    )
    booking_create(applicant=ApplicantFactory(), slot_id=far.pk)
    with pytest.raises(errors.SlotFull):
        booking_create(applicant=ApplicantFactory(), slot_id=far.pk)
    # Within 48 hours of the slot the held seat is released to everyone.
    near_now = far.starts_at - timedelta(hours=47)
    assert booking_create(applicant=ApplicantFactory(), slot_id=far.pk, now=near_now)


def test_driving_test_must_fall_within_the_learner_licence_window(bhopal, driving):
    offering = OfferingFactory(office=bhopal, service=driving)
    slot = SlotFactory(offering=offering, starts_at=days_ahead(5))
    fresh = ApplicantFactory(learner_licence_issued_on=timezone.localdate() - timedelta(days=10))
    with pytest.raises(errors.OutsideLicenceWindow) as info:
        booking_create(applicant=fresh, slot_id=slot.pk)
    assert info.value.code == "outside_licence_window"
    expired = ApplicantFactory(learner_licence_issued_on=timezone.localdate() - timedelta(days=200))
    with pytest.raises(errors.OutsideLicenceWindow):
        booking_create(applicant=expired, slot_id=slot.pk)
    ready = ApplicantFactory(learner_licence_issued_on=timezone.localdate() - timedelta(days=40))
    assert booking_create(applicant=ready, slot_id=slot.pk)
    unknown = ApplicantFactory(learner_licence_issued_on=None)
    with pytest.raises(errors.LearnerLicenceRequired) as info:
        booking_create(applicant=unknown, slot_id=slot.pk)
    assert (info.value.code, info.value.status) == ("learner_licence_required", 409)


def test_cancel_frees_the_seat_at_once(applicant, other_applicant, bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, starts_at=days_ahead(3), capacity=1)
    booking = booking_create(applicant=applicant, slot_id=slot.pk)
    cancelled = booking_cancel(booking=booking)
    assert cancelled.status == Booking.Status.CANCELLED
    slot.refresh_from_db()
    assert slot.booked == 0
    assert booking_create(applicant=other_applicant, slot_id=slot.pk)
    assert cancelled.notifications.filter(kind="cancelled").count() == 2


def test_acting_on_a_cancelled_booking_answers_booking_not_active(applicant, slot, later_slot):
    booking = booking_create(applicant=applicant, slot_id=slot.pk)
    booking_cancel(booking=booking)
    booking.refresh_from_db()
    for action in (
        lambda: booking_cancel(booking=booking),
        lambda: booking_reschedule(booking=booking, slot_id=later_slot.pk),
        lambda: booking_check_in(booking=booking),
    ):
        with pytest.raises(errors.BookingNotActive) as info:
            action()
        assert info.value.code == "booking_not_active"
    slot.refresh_from_db()
    assert slot.booked == 0


def test_stale_booking_object_cannot_cancel_twice(applicant, slot):
    booking = booking_create(applicant=applicant, slot_id=slot.pk)
    stale = Booking.objects.get(pk=booking.pk)
    booking_cancel(booking=booking)
    with pytest.raises(errors.BookingNotActive):
        booking_cancel(booking=stale)
    slot.refresh_from_db()
    assert slot.booked == 0


def test_reschedule_moves_the_seat_atomically(applicant, slot, later_slot):
    booking = booking_create(applicant=applicant, slot_id=slot.pk)
    moved = booking_reschedule(booking=booking, slot_id=later_slot.pk)
    slot.refresh_from_db()
    later_slot.refresh_from_db()
    assert (slot.booked, later_slot.booked) == (0, 1)
    assert moved.slot_id == later_slot.pk and moved.self_reschedules == 1
    event = moved.events.get(kind="rescheduled")
    assert (event.from_slot_id, event.to_slot_id) == (slot.pk, later_slot.pk)


def test_reschedule_into_a_full_slot_keeps_the_old_seat(applicant, slot, bhopal_photo):
    full = SlotFactory(offering=bhopal_photo, starts_at=days_ahead(6), capacity=1)
    booking_create(applicant=ApplicantFactory(), slot_id=full.pk)
    booking = booking_create(applicant=applicant, slot_id=slot.pk)
    with pytest.raises(errors.SlotFull):
        booking_reschedule(booking=booking, slot_id=full.pk)
    slot.refresh_from_db()
    booking.refresh_from_db()
    assert (slot.booked, booking.slot_id) == (1, slot.pk)


def test_self_reschedules_are_limited_but_staff_moves_do_not_count(
    applicant, bhopal_photo, clerk_bhopal
):
    slots = [
        SlotFactory(offering=bhopal_photo, starts_at=days_ahead(3, hour=10 + i)) for i in range(5)
    ]
    booking = booking_create(applicant=applicant, slot_id=slots[0].pk)
    booking = booking_reschedule(booking=booking, slot_id=slots[1].pk)
    booking = booking_reschedule(booking=booking, slot_id=slots[2].pk, acting_user=clerk_bhopal)
    moved_by = booking.events.get(to_slot=slots[2])
    assert (moved_by.actor, moved_by.actor_user) == ("staff", clerk_bhopal)
    booking = booking_reschedule(booking=booking, slot_id=slots[3].pk)
    with pytest.raises(errors.RescheduleLimitReached):
        booking_reschedule(booking=booking, slot_id=slots[4].pk)
    assert booking.self_reschedules == 2


def test_reschedule_to_another_service_is_invalid(applicant, slot, bhopal, learner):
    booking = booking_create(applicant=applicant, slot_id=slot.pk)
    other = SlotFactory(offering=OfferingFactory(office=bhopal, service=learner))
    with pytest.raises(errors.SlotNotForBooking) as info:
        booking_reschedule(booking=booking, slot_id=other.pk)
    assert (info.value.status, info.value.code) == (409, "invalid_slot_choice")


def test_needs_new_slot_booking_chooses_a_priority_seat_without_it_counting(
    applicant, slot, bhopal_photo
):
    reserved = SlotFactory(
        offering=bhopal_photo, starts_at=days_ahead(6), capacity=1, priority_reserve=1
    )
    booking = booking_create(applicant=applicant, slot_id=slot.pk)
    # As the outage task leaves it: seat released, flagged priority.
    Booking.objects.filter(pk=booking.pk).update(status="needs_new_slot", priority=True)
    Slot.objects.filter(pk=slot.pk).update(booked=0)
    booking.refresh_from_db()
    moved = booking_reschedule(booking=booking, slot_id=reserved.pk)
    reserved.refresh_from_db()
    assert (moved.status, reserved.booked, moved.self_reschedules) == ("confirmed", 1, 0)


def test_check_in_only_on_the_appointments_day(applicant, slot, settings):
    booking = booking_create(applicant=applicant, slot_id=slot.pk)
    early = timedelta(minutes=settings.CHECK_IN_EARLY_MINUTES)
    for now in (slot.starts_at - timedelta(days=20), slot.starts_at - early - timedelta(minutes=1)):
        with pytest.raises(errors.CheckInNotToday) as info:
            booking_check_in(booking=booking, now=now)
        assert (info.value.status, info.value.code) == (409, "check_in_not_today")
    with pytest.raises(errors.CheckInNotToday):
        booking_check_in(booking=booking, now=slot.starts_at + timedelta(days=1))
    assert booking_check_in(booking=booking, now=slot.starts_at - early).status == "attended"


def test_check_in_and_no_show(applicant, slot, other_applicant):
    booking = booking_create(applicant=applicant, slot_id=slot.pk)
    attended = booking_check_in(booking=booking, now=slot.starts_at)
    assert attended.status == Booking.Status.ATTENDED
    slot.refresh_from_db()
    assert slot.booked == 1  # the seat was used
    other = booking_create(applicant=other_applicant, slot_id=slot.pk)
    with pytest.raises(errors.BookingNotActive):
        booking_mark_no_show(booking=other)  # not before its time
    missed = booking_mark_no_show(booking=other, now=slot.ends_at + timedelta(minutes=1))
    assert missed.status == Booking.Status.NO_SHOW


def test_end_of_day_marks_unattended_bookings_as_no_shows(applicant, other_applicant, slot):
    kept = booking_create(applicant=applicant, slot_id=slot.pk)
    came = booking_create(applicant=other_applicant, slot_id=slot.pk)
    booking_check_in(booking=came, now=slot.starts_at)
    next_day = slot.starts_at + timedelta(days=1)
    assert bookings_mark_no_shows(now=next_day) == 1
    assert bookings_mark_no_shows(now=next_day) == 0
    kept.refresh_from_db()
    assert kept.status == Booking.Status.NO_SHOW
    assert kept.events.filter(kind="no_show", actor="system").count() == 1


def test_driving_test_window_dates_are_inclusive():
    from slots.rules import licence_window

    first, last = licence_window(learner_issued_on=date(2026, 1, 1))
    assert first == date(2026, 1, 31)
    assert last == date(2026, 7, 2)
