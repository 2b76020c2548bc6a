"""An outage's plan changes (a known end, until further notice again, back to the same end):
each change is a new `Outage.revision`, and the history rows of a plan carry it. A later plan may
hold or place a booking from the same slot again, with its own history row and message; a
re-run of the same plan writes nothing twice (`event_unique_outage_move`). On PostgreSQL, tasks
in-process."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test import TestCase
from django.utils import timezone

from notifications.models import Notification
from slots.integrity import integrity_violations
from slots.models import Booking, BookingEvent, Outage, Slot
from slots.services.allocation import driving_test_id
from slots.services.bookings import booking_cancel, booking_create
from slots.services.outage_scope import groups_of
from slots.services.outages import outage_create, outage_extend
from slots.services.reschedule import _process_chunk, outage_reschedule
from slots.services.slot_generation import slots_generate
from tests.factories import ApplicantFactory, daily_sessions, local_dt

pytestmark = pytest.mark.django_db


@pytest.fixture
def photo_bhopal(bhopal_photo):
    daily_sessions(bhopal_photo, seats=4, reserve=1)
    slots_generate(days=4)
    return bhopal_photo


def _tomorrow(offering) -> list[Slot]:
    """Tomorrow's slots, 10:00–12:00: always inside the 48-hour hold horizon and more than
    OUTAGE_RECOVERY_LEAD_MINUTES ahead."""
    day = timezone.localdate() + timedelta(days=1)
    return list(
        Slot.objects.filter(
            offering=offering, starts_at__gte=local_dt(day, 0), starts_at__lt=local_dt(day, 23)
        ).order_by("starts_at")
    )


def _run_on_commit(function, **kwargs):
    """Call a service; the rescheduling task it publishes runs in-process at commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        result = function(**kwargs)
    result.refresh_from_db()
    return result


def _open(bhopal, **kwargs) -> Outage:
    return _run_on_commit(
        outage_create, offices=[bhopal], expected_end=None, reason="Licence server down", **kwargs
    )


def _extend(outage: Outage, end) -> Outage:
    return _run_on_commit(outage_extend, outage=outage, expected_end=end)


def _holds(booking: Booking) -> list[BookingEvent]:
    return list(booking.events.filter(kind=BookingEvent.Kind.ON_HOLD).order_by("at", "pk"))


def _sms_keys(booking: Booking, kind: str) -> list[str]:
    return sorted(
        booking.notifications.filter(channel="sms", kind=kind).values_list("event_key", flat=True)
    )


def test_held_again_from_the_same_slot_after_the_end_was_known_and_then_unknown_again(
    photo_bhopal, bhopal
):
    slot = _tomorrow(photo_bhopal)[0]
    booking = booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    other = booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)

    # Until further notice: held, from its slot (revision 0).
    outage = _open(bhopal)
    booking.refresh_from_db()
    assert (outage.revision, booking.status) == (0, Booking.Status.ON_HOLD)

    # A known end, an hour on: its time is still ahead, so it keeps it (revision 1).
    outage = _extend(outage, timezone.now() + timedelta(hours=1))
    booking.refresh_from_db()
    assert (outage.revision, booking.status, booking.slot_id) == (1, "confirmed", slot.pk)
    (kept,) = booking.events.filter(kind=BookingEvent.Kind.RESTORED)
    assert (kept.from_slot_id, kept.to_slot_id, kept.outage_revision) == (slot.pk, slot.pk, 1)
    booking_cancel(booking=other)

    # Until further notice again: held again from the same slot by the same outage — once
    # refused by the unique constraint (the run failed, nobody was told).
    outage = _extend(outage, None)

    booking.refresh_from_db()
    assert (outage.revision, outage.state, outage.last_error) == (2, Outage.State.DONE, "")
    assert booking.status == Booking.Status.ON_HOLD and booking.held_by_id == outage.pk
    first, second = _holds(booking)
    assert (first.from_slot_id, first.outage_id) == (second.from_slot_id, second.outage_id)
    assert (first.outage_revision, second.outage_revision) == (0, 2)
    # Told again, by a new message about the new hold.
    assert _sms_keys(booking, Notification.Kind.ON_HOLD) == sorted(
        [f"event:{first.pk}", f"event:{second.pk}"]
    )
    assert booking.notifications.filter(event_key=f"event:{second.pk}").count() == 2  # sms, e-mail
    assert Slot.objects.get(pk=slot.pk).booked == 0
    assert integrity_violations() == {}


def test_moved_then_held_then_placed_then_held_again_from_its_new_slot(photo_bhopal, bhopal):
    down, later = _tomorrow(photo_bhopal)[:2]
    booking = booking_create(applicant=ApplicantFactory(), slot_id=down.pk)

    outage = _run_on_commit(
        outage_create,
        offices=[bhopal],
        starts_at=down.starts_at,
        expected_end=down.ends_at,
        reason="Photo server down",
    )
    booking.refresh_from_db()
    assert (booking.slot_id, booking.status) == (later.pk, "confirmed")  # moved, revision 0

    outage = _extend(outage, None)  # held from its new slot (revision 1)
    outage = _extend(outage, down.ends_at)  # the same end as first: it keeps `later` (2)
    booking.refresh_from_db()
    assert (outage.revision, booking.slot_id, booking.status) == (2, later.pk, "confirmed")
    outage = _extend(outage, None)  # held from `later` again (3)

    booking.refresh_from_db()
    assert (outage.revision, outage.state) == (3, Outage.State.DONE)
    assert booking.status == Booking.Status.ON_HOLD
    assert [(e.from_slot_id, e.outage_revision) for e in _holds(booking)] == [
        (later.pk, 1),
        (later.pk, 3),
    ]
    assert len(_sms_keys(booking, Notification.Kind.ON_HOLD)) == 2
    assert integrity_violations() == {}


def test_rerunning_the_same_revision_writes_nothing_twice(photo_bhopal, bhopal):
    slot = _tomorrow(photo_bhopal)[0]
    booking = booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    outage = _open(bhopal)
    outage = _extend(outage, timezone.now() + timedelta(hours=1))
    outage = _extend(outage, None)
    events, messages = BookingEvent.objects.count(), Notification.objects.count()

    # A duplicate message, the reconcile, a redelivery after a crash: the same plan again.
    for _ in range(2):
        with TestCase.captureOnCommitCallbacks(execute=True):
            outage_reschedule(outage_id=outage.pk)

    outage.refresh_from_db()
    assert (outage.revision, outage.state, outage.on_hold) == (2, Outage.State.DONE, 1)
    assert (BookingEvent.objects.count(), Notification.objects.count()) == (events, messages)
    # And the database refuses the same hold twice under one revision.
    hold = _holds(booking)[-1]
    with pytest.raises(IntegrityError), transaction.atomic():
        BookingEvent.objects.create(
            booking=booking,
            kind=BookingEvent.Kind.ON_HOLD,
            actor=BookingEvent.Actor.SYSTEM,
            from_slot_id=hold.from_slot_id,
            outage=outage,
            outage_revision=hold.outage_revision,
        )


def test_a_pass_that_read_an_older_plan_writes_nothing_even_with_the_same_end_again(
    photo_bhopal, bhopal
):
    slot = _tomorrow(photo_bhopal)[0]
    booking = booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    outage = _open(bhopal)
    stale = Outage.objects.prefetch_related("offices", "services").get(pk=outage.pk)
    outage = _extend(outage, timezone.now() + timedelta(hours=1))  # placed: kept, revision 1
    # Until further notice again (revision 2), its run not yet started: the end is None again,
    # as the stale pass read it, but the plan is not the one it read.
    with TestCase.captureOnCommitCallbacks(execute=False):
        outage_extend(outage=outage, expected_end=None)
    events = BookingEvent.objects.count()

    progress = _process_chunk(
        outage=stale, groups=groups_of(stale), now=timezone.now(), driving_test=driving_test_id()
    )

    assert progress.nothing and BookingEvent.objects.count() == events
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED  # left to the run of revision 2
    outage = Outage.objects.get(pk=outage.pk)
    with TestCase.captureOnCommitCallbacks(execute=True):
        outage_reschedule(outage_id=outage.pk)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.ON_HOLD
    assert [e.outage_revision for e in _holds(booking)] == [0, 2]
