"""Outages as they really happen (DESIGN.md; API.md, "Additions of 2026-12-01"): open-ended
outages hold bookings and place them once when the end is known; partial outages keep a share
of each slot's seats. Invariants 9 and 10, on PostgreSQL (tasks run in-process)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from notifications.models import Notification
from slots.errors import SlotUnavailable
from slots.integrity import integrity_violations
from slots.models import Booking, BookingEvent, Outage, Slot, WeeklySession
from slots.selectors import availability_for_office
from slots.services.bookings import booking_create
from slots.services.outages import outage_create, outage_extend, outage_preview, outage_resolve
from slots.services.reschedule import outage_reschedule, outages_needing_a_run
from slots.services.slot_generation import slots_generate
from tests.factories import ApplicantFactory, daily_sessions, local_dt

DAY = timedelta(days=1)
# Tomorrow 10:00–12:00 is always inside the default 48-hour hold horizon and beyond the
# booking cut-off; four days on is always outside the horizon.
TOMORROW = 1
LATER = 4


@pytest.fixture
def photo_bhopal(bhopal_photo):
    daily_sessions(bhopal_photo, seats=4, reserve=1)
    slots_generate(days=12)
    return bhopal_photo


def _day(offset: int):
    return timezone.localdate() + offset * DAY


def _slots(offering, offset: int):
    day = _day(offset)
    return list(
        Slot.objects.filter(
            offering=offering, starts_at__gte=local_dt(day, 0), starts_at__lt=local_dt(day, 23)
        ).order_by("starts_at")
    )


def _fill(offering, offset: int, per_slot: int) -> list[Booking]:
    bookings = []
    for slot in _slots(offering, offset):
        for _ in range(per_slot):
            bookings.append(booking_create(applicant=ApplicantFactory(), slot_id=slot.pk))
    return bookings


def _run_on_commit(function, **kwargs):
    """Call a service; the rescheduling task it publishes runs in-process at commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return function(**kwargs)


def _until_further_notice(offices, services=None, capacity_percent=0) -> Outage:
    outage = _run_on_commit(
        outage_create,
        offices=offices,
        services=services,
        expected_end=None,
        capacity_percent=capacity_percent,
        reason="Licence server down, NIC informed",
        reason_hi="लाइसेंस सर्वर बंद, एनआईसी को सूचना दी गई",
    )
    outage.refresh_from_db()
    return outage


def _fresh(bookings):
    return list(
        Booking.objects.filter(pk__in=[b.pk for b in bookings]).select_related("slot", "held_by")
    )


def _sms(booking, kind):
    return booking.notifications.filter(channel="sms", kind=kind).count()


# --- Open-ended: hold ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_open_ended_outage_holds_the_bookings_of_the_horizon_and_tells_each_once(
    photo_bhopal, bhopal
):
    soon = _fill(photo_bhopal, TOMORROW, per_slot=2)
    later = _fill(photo_bhopal, LATER, per_slot=1)

    outage = _until_further_notice([bhopal])

    assert outage.expected_end is None
    assert (outage.state, outage.affected, outage.on_hold, outage.moved) == ("done", 8, 8, 0)
    for booking in _fresh(soon):
        assert booking.status == "on_hold" and booking.priority
        assert booking.held_by == outage
        assert timezone.localdate(booking.slot.starts_at) == _day(TOMORROW)  # original kept
        assert _sms(booking, Notification.Kind.ON_HOLD) == 1
        (event,) = booking.events.filter(kind="on_hold")
        assert event.outage_id == outage.pk and event.to_slot_id is None
    assert all(s.booked == 0 for s in _slots(photo_bhopal, TOMORROW))  # no seat held
    assert {b.status for b in _fresh(later)} == {"confirmed"}  # beyond the horizon
    assert integrity_violations() == {}

    # Running again (a duplicate message, the reconcile) tells nobody twice.
    before = Notification.objects.count()
    outage_reschedule(outage_id=outage.pk)
    assert Notification.objects.count() == before
    assert outage.pk not in outages_needing_a_run()


@pytest.mark.django_db
def test_the_held_horizon_is_closed_to_new_bookings_and_shown_as_outage(photo_bhopal, bhopal):
    _until_further_notice([bhopal])
    tomorrow = _slots(photo_bhopal, TOMORROW)
    with pytest.raises(SlotUnavailable):
        booking_create(applicant=ApplicantFactory(), slot_id=tomorrow[0].pk)
    # Beyond the horizon people may still book: the horizon reaches them if it lasts.
    booking_create(applicant=ApplicantFactory(), slot_id=_slots(photo_bhopal, LATER)[0].pk)

    days = {
        d.date: d
        for d in availability_for_office(
            offering=photo_bhopal, date_from=_day(TOMORROW), date_to=_day(LATER)
        )
    }
    assert days[_day(TOMORROW)].status == "outage"
    assert all(e.available == 0 for e in days[_day(TOMORROW)].slots)
    assert days[_day(LATER)].status == "open"


@pytest.mark.django_db
def test_the_hold_horizon_rolls_while_the_outage_lasts(photo_bhopal, bhopal):
    later = _fill(photo_bhopal, LATER, per_slot=1)
    outage = _until_further_notice([bhopal])
    assert {b.status for b in _fresh(later)} == {"confirmed"}

    three_days_on = timezone.now() + 3 * DAY  # the reconcile comes round then
    assert outage.pk in outages_needing_a_run(now=three_days_on)
    outage_reschedule(outage_id=outage.pk, now=three_days_on)

    assert {b.status for b in _fresh(later)} == {"on_hold"}
    assert all(_sms(b, Notification.Kind.ON_HOLD) == 1 for b in _fresh(later))


# --- Open-ended: an end, or the service back ---------------------------------------------------


@pytest.mark.django_db
def test_giving_an_end_places_every_held_booking_once_fifo_from_the_end(photo_bhopal, bhopal):
    held = _fill(photo_bhopal, TOMORROW, per_slot=3)  # 12 held
    outage = _until_further_notice([bhopal])
    end = local_dt(_day(TOMORROW + 1), 0)

    _run_on_commit(outage_extend, outage=outage, expected_end=end)

    outage.refresh_from_db()
    assert (outage.state, outage.on_hold, outage.moved) == ("done", 0, 12)
    placed = sorted(_fresh(held), key=lambda b: (b.events.get(kind="booked").to_starts_at, b.pk))
    starts = [b.slot.starts_at for b in placed]
    assert starts == sorted(starts)  # FIFO by original start
    assert all(s >= end for s in starts)
    assert all(b.status == "confirmed" and b.priority and b.held_by is None for b in placed)
    # The priority reserve may be used: four a slot on the day after, not three.
    assert Slot.objects.get(pk=placed[0].slot_id).booked == 4
    for booking in placed:
        assert _sms(booking, Notification.Kind.ON_HOLD) == 1
        assert _sms(booking, Notification.Kind.RESCHEDULED_OUTAGE) == 1
    assert integrity_violations() == {}

    before = Notification.objects.count()
    outage_reschedule(outage_id=outage.pk)
    assert Notification.objects.count() == before


@pytest.mark.django_db
def test_resolving_lets_a_held_booking_far_enough_ahead_keep_its_time(photo_bhopal, bhopal):
    held = _fill(photo_bhopal, TOMORROW, per_slot=4)  # the slots were full
    outage = _until_further_notice([bhopal])

    _run_on_commit(outage_resolve, outage=outage)

    outage.refresh_from_db()
    assert (outage.state, outage.on_hold, outage.moved) == ("done", 0, 0)
    for booking in _fresh(held):
        assert booking.status == "confirmed" and booking.held_by is None
    assert sorted((b.pk, b.slot_id) for b in _fresh(held)) == sorted(
        (b.pk, b.slot_id) for b in held
    )
    assert all(s.booked == 4 for s in _slots(photo_bhopal, TOMORROW))
    for booking in _fresh(held):
        assert _sms(booking, Notification.Kind.SERVICE_RESTORED) == 1  # "your booking stands"
        assert _sms(booking, Notification.Kind.RESCHEDULED_OUTAGE) == 0
    assert integrity_violations() == {}


@pytest.mark.django_db
def test_resolving_places_held_bookings_too_close_to_keep_at_the_earliest_seats(
    photo_bhopal, bhopal, settings
):
    settings.OUTAGE_RECOVERY_LEAD_MINUTES = 5 * 24 * 60  # every held time is too close now
    # Today's slots are bookable when the test runs just after midnight (India time): without
    # them the held day's own slots are the earliest, whatever the hour.
    Slot.objects.filter(offering=photo_bhopal, starts_at__lt=local_dt(_day(TOMORROW), 0)).delete()
    held = _fill(photo_bhopal, TOMORROW, per_slot=2)
    outage = _until_further_notice([bhopal])

    _run_on_commit(outage_resolve, outage=outage)

    outage.refresh_from_db()
    assert (outage.state, outage.on_hold, outage.moved) == ("done", 0, 8)
    placed = sorted(_fresh(held), key=lambda b: (b.events.get(kind="booked").to_starts_at, b.pk))
    starts = [b.slot.starts_at for b in placed]
    assert starts == sorted(starts)
    # The earliest seats from now on: the held day's own slots are free again and come first.
    assert timezone.localdate(starts[0]) == _day(TOMORROW)
    assert all(_sms(b, Notification.Kind.RESCHEDULED_OUTAGE) == 1 for b in placed)
    assert integrity_violations() == {}


@pytest.mark.django_db
def test_preview_of_an_open_ended_outage_counts_who_would_be_held(photo_bhopal, bhopal):
    _fill(photo_bhopal, TOMORROW, per_slot=1)
    _fill(photo_bhopal, LATER, per_slot=1)
    preview = outage_preview(offices=[bhopal], services=None, expected_end=None)
    assert (preview.affected, preview.on_hold, preview.would_move) == (4, 4, 0)


# --- Partial -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_partial_outage_keeps_priority_then_earliest_and_moves_the_overflow(
    photo_bhopal, bhopal, settings
):
    first = _slots(photo_bhopal, TOMORROW)[0]
    ordinary = [booking_create(applicant=ApplicantFactory(), slot_id=first.pk) for _ in range(3)]
    priority = booking_create(applicant=ApplicantFactory(), slot_id=first.pk)
    Booking.objects.filter(pk=priority.pk).update(priority=True)  # moved here by an outage
    end = local_dt(_day(TOMORROW + 1), 0)

    outage = _run_on_commit(
        outage_create,
        offices=[bhopal],
        expected_end=end,
        capacity_percent=50,
        reason="One photo counter of four works",
    )

    outage.refresh_from_db()
    assert (outage.state, outage.moved, outage.on_hold) == ("done", 2, 0)
    first.refresh_from_db()
    assert (first.capacity, first.booked) == (2, 2)
    stayed = {b.pk for b in _fresh([*ordinary, priority]) if b.slot_id == first.pk}
    assert stayed == {priority.pk, ordinary[0].pk}  # priority first, then the earliest booked
    for booking in _fresh(ordinary[1:]):
        assert booking.slot.starts_at >= end and booking.status == "confirmed"
        assert _sms(booking, Notification.Kind.RESCHEDULED_OUTAGE) == 1
    assert all(s.capacity == 2 for s in _slots(photo_bhopal, TOMORROW))
    # Still bookable, at the reduced capacity.
    (day,) = availability_for_office(
        offering=photo_bhopal, date_from=_day(TOMORROW), date_to=_day(TOMORROW)
    )
    assert [e.slot.capacity for e in day.slots] == [2, 2, 2, 2]
    assert integrity_violations() == {}

    _run_on_commit(outage_resolve, outage=outage)
    assert all(s.capacity == 4 for s in _slots(photo_bhopal, TOMORROW))
    assert integrity_violations() == {}


@pytest.mark.django_db
def test_fewer_seats_during_a_partial_outage_move_the_new_overflow_on_the_next_pass(
    photo_bhopal, bhopal
):
    first = _slots(photo_bhopal, TOMORROW)[0]
    kept = [booking_create(applicant=ApplicantFactory(), slot_id=first.pk) for _ in range(2)]
    outage = _run_on_commit(
        outage_create,
        offices=[bhopal],
        expected_end=local_dt(_day(TOMORROW + 1), 0),
        capacity_percent=50,
        reason="One photo counter of two works",
    )
    first.refresh_from_db()
    assert (first.capacity, first.booked) == (2, 2)  # half of 4 seats: both bookings stay

    # The clerk cuts the sessions to 2 seats: the outage's half of them is 1, below the 2
    # bookings in the slot, which slot generation never drops on its own.
    WeeklySession.objects.filter(offering=photo_bhopal).update(seats_per_slot=2)
    slots_generate(days=12)
    assert outages_needing_a_run() == [outage.pk]
    outage_reschedule(outage_id=outage.pk)

    first.refresh_from_db()
    assert (first.capacity, first.booked) == (1, 1)
    stayed, moved = sorted(_fresh(kept), key=lambda b: b.slot_id != first.pk)
    assert stayed.slot_id == first.pk  # the earliest booked keeps its seat
    assert moved.slot.starts_at >= outage.expected_end
    assert _sms(moved, Notification.Kind.RESCHEDULED_OUTAGE) == 1
    assert integrity_violations() == {}


@pytest.mark.django_db
def test_open_ended_partial_outage_holds_the_overflow(photo_bhopal, bhopal):
    booked = _fill(photo_bhopal, TOMORROW, per_slot=4)
    outage = _until_further_notice([bhopal], capacity_percent=25)

    assert (outage.state, outage.on_hold) == ("done", 12)
    statuses = [b.status for b in _fresh(booked)]
    assert statuses.count("on_hold") == 12 and statuses.count("confirmed") == 4
    assert all((s.capacity, s.booked) == (1, 1) for s in _slots(photo_bhopal, TOMORROW))
    assert integrity_violations() == {}

    # The end becomes known: the held overflow is placed once, after it.
    end = local_dt(_day(TOMORROW + 1), 0)
    _run_on_commit(outage_extend, outage=outage, expected_end=end)
    assert {b.status for b in _fresh(booked)} == {"confirmed"}
    assert BookingEvent.objects.filter(outage=outage, kind="rescheduled").count() == 12
    assert integrity_violations() == {}


@pytest.mark.django_db
def test_capacity_percent_outside_0_to_99_is_refused(bhopal):
    from slots.services.outages import OutageInvalid

    with pytest.raises(OutageInvalid) as refused:
        outage_create(offices=[bhopal], expected_end=None, capacity_percent=100, reason="x")
    assert "capacity_percent" in refused.value.fields


@pytest.mark.django_db
def test_slot_generation_keeps_a_partial_outage_share_and_resolving_gives_the_plan_back(
    photo_bhopal, bhopal
):
    from slots.models import WeeklySession

    outage = _run_on_commit(
        outage_create,
        offices=[bhopal],
        expected_end=local_dt(_day(TOMORROW + 1), 0),
        capacity_percent=50,
        reason="Slow photo server",
    )
    assert {s.capacity for s in _slots(photo_bhopal, TOMORROW)} == {2}

    WeeklySession.objects.filter(offering=photo_bhopal).update(seats_per_slot=6)
    slots_generate(days=12)  # the nightly run, or a clerk's change of the sessions

    assert {s.capacity for s in _slots(photo_bhopal, TOMORROW)} == {3}  # half of the new plan
    assert {s.capacity for s in _slots(photo_bhopal, LATER)} == {6}
    assert integrity_violations() == {}
    _run_on_commit(outage_resolve, outage=outage)
    assert {s.capacity for s in _slots(photo_bhopal, TOMORROW)} == {6}
