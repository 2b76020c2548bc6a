"""outage_undo: a false alarm puts bookings back where seats remain; each applicant told once."""

from __future__ import annotations

from collections import Counter
from datetime import time, timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from notifications.models import Notification
from slots.integrity import integrity_violations
from slots.models import Booking, BookingEvent, ExtraSession, Outage, Slot
from slots.services.bookings import booking_reschedule
from slots.services.outage_undo import FALSE_ALARM_REASON, OutageUndoRefused, outage_undo
from slots.services.slot_generation import slots_generate
from tests.admin.conftest import DAY, day_slots, fill_day, record_outage
from tests.factories import OfferingFactory

pytestmark = pytest.mark.django_db


def _undo_notifications(bookings):
    """{booking id: Counter((kind, channel))} of the rows announcing the undo."""
    events = BookingEvent.objects.filter(
        booking__in=bookings, reason=FALSE_ALARM_REASON, actor=BookingEvent.Actor.STAFF
    )
    keys = {f"event:{pk}": booking_id for pk, booking_id in events.values_list("pk", "booking_id")}
    told = {b.pk: Counter() for b in bookings}
    for key, kind, channel in Notification.objects.filter(event_key__in=keys).values_list(
        "event_key", "kind", "channel"
    ):
        told[keys[key]][(kind, channel)] += 1
    return told


def test_undo_puts_every_booking_back_and_tells_each_applicant_once(
    photo_bhopal, bhopal, photo, outage_day
):
    booked = fill_day(photo_bhopal, outage_day, per_slot=2)
    original = {b.pk: b.slot_id for b in booked}
    outage = record_outage([bhopal], outage_day, services=[photo])
    assert Booking.objects.filter(pk__in=original, slot_id__in=original.values()).count() == 0

    result = outage_undo(outage=outage)

    assert (result.moved_back, result.stayed, result.told) == (8, 0, 8)
    for booking in Booking.objects.filter(pk__in=original):
        assert booking.slot_id == original[booking.pk]
        assert booking.status == Booking.Status.CONFIRMED
        assert not booking.priority  # granted for this outage only
        (event,) = booking.events.filter(reason=FALSE_ALARM_REASON)
        assert (event.kind, event.actor, event.outage_id) == ("rescheduled", "staff", outage.pk)
        assert event.to_slot_id == original[booking.pk]
    for counts in _undo_notifications(booked).values():
        assert counts == Counter({("rescheduled", "sms"): 1, ("rescheduled", "email"): 1})
    outage.refresh_from_db()
    assert outage.resolved_at is not None
    # Nobody got "service restored" as well: one message per channel is the whole story.
    assert not Notification.objects.filter(
        booking__in=booked, kind=Notification.Kind.SERVICE_RESTORED
    ).exists()
    assert integrity_violations() == {}


def test_only_the_seats_that_remain_are_given_back_first_come_first_served(
    photo_bhopal, bhopal, photo, outage_day
):
    booked = fill_day(photo_bhopal, outage_day, per_slot=2)
    first_slot = day_slots(photo_bhopal, outage_day)[0]
    in_first = sorted((b for b in booked if b.slot_id == first_slot.pk), key=lambda b: b.created_at)
    outage = record_outage([bhopal], outage_day, services=[photo])
    # Only one seat of the first slot remains (e.g. capacity reduced meanwhile).
    Slot.objects.filter(pk=first_slot.pk).update(capacity=F("booked") + 1)

    result = outage_undo(outage=outage)

    assert (result.moved_back, result.stayed) == (7, 1)
    earlier, later = (Booking.objects.get(pk=b.pk) for b in in_first)
    assert earlier.slot_id == first_slot.pk
    assert later.slot_id != first_slot.pk and later.priority  # stays moved, keeps priority
    assert later.slot.starts_at >= outage.expected_end
    told = _undo_notifications(booked)
    assert told[later.pk] == Counter(
        {("service_restored", "sms"): 1, ("service_restored", "email"): 1}
    )
    assert told[earlier.pk] == Counter({("rescheduled", "sms"): 1, ("rescheduled", "email"): 1})
    assert Slot.objects.get(pk=first_slot.pk).booked == Slot.objects.get(pk=first_slot.pk).capacity
    assert integrity_violations() == {}


def test_bookings_left_without_a_slot_get_their_original_slot_back(bhopal, learner, outage_day):
    # Learner tests only on the outage day: nowhere to move to, so everyone needs a new slot.
    offering = OfferingFactory(office=bhopal, service=learner)
    ExtraSession.objects.create(
        offering=offering,
        date=outage_day,
        start_time=time(10, 0),
        end_time=time(11, 0),
        slot_minutes=30,
        seats_per_slot=3,
    )
    slots_generate(
        first_day=outage_day, days=1, offerings=type(offering).objects.filter(pk=offering.pk)
    )
    booked = fill_day(offering, outage_day, per_slot=2)
    outage = record_outage([bhopal], outage_day, services=[learner])
    assert set(
        Booking.objects.filter(pk__in=[b.pk for b in booked]).values_list("status", flat=True)
    ) == {"needs_new_slot"}

    result = outage_undo(outage=outage)

    assert result.moved_back == 4
    for booking in Booking.objects.filter(pk__in=[b.pk for b in booked]):
        assert booking.status == Booking.Status.CONFIRMED
        (event,) = booking.events.filter(reason=FALSE_ALARM_REASON)
        assert event.from_slot_id is None and event.to_slot_id == booking.slot_id
    assert [s.booked for s in day_slots(offering, outage_day)] == [2, 2]
    assert integrity_violations() == {}


def test_a_booking_the_applicant_moved_since_stays_and_is_told_service_restored(
    photo_bhopal, bhopal, photo, outage_day
):
    booked = fill_day(photo_bhopal, outage_day, per_slot=1)
    outage = record_outage([bhopal], outage_day, services=[photo])
    chooser = Booking.objects.get(pk=booked[0].pk)
    later_slot = day_slots(photo_bhopal, outage_day + 5 * DAY)[2]
    booking_reschedule(booking=chooser, slot_id=later_slot.pk)

    result = outage_undo(outage=outage)

    assert (result.moved_back, result.stayed) == (3, 1)
    assert Booking.objects.get(pk=chooser.pk).slot_id == later_slot.pk
    assert _undo_notifications([chooser])[chooser.pk] == Counter(
        {("service_restored", "sms"): 1, ("service_restored", "email"): 1}
    )


def test_a_booking_whose_original_time_has_begun_stays_moved(
    photo_bhopal, bhopal, photo, outage_day
):
    booked = fill_day(photo_bhopal, outage_day, per_slot=1)
    outage = record_outage([bhopal], outage_day, services=[photo])
    first = day_slots(photo_bhopal, outage_day)[0]
    now = first.starts_at + timedelta(minutes=5)
    Outage.objects.filter(pk=outage.pk).update(created_at=now - timedelta(minutes=10))
    outage.refresh_from_db()

    result = outage_undo(outage=outage, now=now)

    assert (result.moved_back, result.stayed) == (3, 1)
    stayed = Booking.objects.get(pk=next(b.pk for b in booked if b.slot_id == first.pk))
    assert stayed.slot.starts_at >= outage.expected_end


def test_undo_is_refused_after_the_window(photo_bhopal, bhopal, photo, outage_day, settings):
    settings.OUTAGE_UNDO_WINDOW_MINUTES = 30
    booked = fill_day(photo_bhopal, outage_day, per_slot=1)
    outage = record_outage([bhopal], outage_day, services=[photo])
    moved_to = dict(
        Booking.objects.filter(pk__in=[b.pk for b in booked]).values_list("pk", "slot_id")
    )

    with pytest.raises(OutageUndoRefused, match="within 30 minutes"):
        outage_undo(outage=outage, now=outage.created_at + timedelta(minutes=31))

    assert dict(Booking.objects.filter(pk__in=moved_to).values_list("pk", "slot_id")) == moved_to
    outage.refresh_from_db()
    assert outage.resolved_at is None


def test_undo_is_refused_twice_and_while_the_move_runs(photo_bhopal, bhopal, photo, outage_day):
    fill_day(photo_bhopal, outage_day, per_slot=1)
    outage = record_outage([bhopal], outage_day, services=[photo])
    outage_undo(outage=outage)
    with pytest.raises(OutageUndoRefused, match="already resolved"):
        outage_undo(outage=outage)

    running = record_outage([bhopal], outage_day + DAY, services=[photo])
    Outage.objects.filter(pk=running.pk).update(state=Outage.State.RUNNING)
    with pytest.raises(OutageUndoRefused, match="still being moved"):
        outage_undo(outage=running)


def test_undo_is_set_based(photo_bhopal, bhopal, photo, outage_day, django_assert_max_num_queries):
    fill_day(photo_bhopal, outage_day, per_slot=3)
    outage = record_outage([bhopal], outage_day, services=[photo])
    with django_assert_max_num_queries(30):
        result = outage_undo(outage=outage, now=timezone.now())
    assert result.moved_back == 12
