"""Confirm or release (slots/services/reminders.py): the reminder with "I'll come" / "I can't
come" REMINDER_HOURS ahead, the last call and the release of unconfirmed bookings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification
from slots.errors import BookingNotActive
from slots.links import reminder_link_reference
from slots.models import Booking, BookingEvent, Slot
from slots.services.bookings import booking_attendance_confirm, booking_create
from slots.services.reminders import (
    reminders_write,
    unconfirmed_bookings_process,
    unconfirmed_release,
)
from tests.factories import ApplicantFactory, BookingFactory, SlotFactory

Kind = Notification.Kind
pytestmark = pytest.mark.django_db


def _slot_in(offering, ahead: timedelta, *, now) -> Slot:
    starts_at = (now + ahead).replace(second=0, microsecond=0)
    return SlotFactory(
        offering=offering, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=30)
    )


def _booking_in(offering, ahead: timedelta, *, now, booked_ahead=timedelta(days=10), **kwargs):
    slot = _slot_in(offering, ahead, now=now)
    return BookingFactory(slot=slot, created_at=slot.starts_at - booked_ahead, **kwargs)


def _kinds(booking) -> list[str]:
    return sorted(
        Notification.objects.filter(booking=booking, channel="sms").values_list("kind", flat=True)
    )


def test_the_reminder_with_both_links_is_written_once_at_reminder_hours(jabalpur_photo, settings):
    settings.SITE_URL = "https://rtoslot.mp.gov.in"
    now = timezone.now()
    due = _booking_in(jabalpur_photo, timedelta(hours=47), now=now)
    far = _booking_in(jabalpur_photo, timedelta(hours=49), now=now)
    cancelled = _booking_in(
        jabalpur_photo, timedelta(hours=20), now=now, status=Booking.Status.CANCELLED
    )
    past = _booking_in(jabalpur_photo, -timedelta(hours=1), now=now)

    assert reminders_write(now=now) == 2  # SMS and e-mail of the one due
    assert reminders_write(now=now) == 0
    assert reminders_write(now=now + timedelta(minutes=15)) == 0

    rows = Notification.objects.filter(kind=Kind.REMINDER)
    assert {r.booking_id for r in rows} == {due.pk}
    assert not Notification.objects.filter(booking__in=[far, cancelled, past]).exists()
    sms = rows.get(channel="sms")
    day = timezone.localtime(due.slot.starts_at).date()
    assert sms.event_key == f"reminder:{due.reference}:{day.isoformat()}"
    links = sms.context["links"]
    for action, key in (("yes", "confirm"), ("no", "cancel")):
        prefix = f"https://rtoslot.mp.gov.in/{action}/"
        assert links[key].startswith(prefix)
        token = links[key].removeprefix(prefix)
        assert reminder_link_reference(action=action, token=token) == due.reference
    # The two links are not interchangeable.
    yes_token = links["confirm"].rsplit("/", 1)[1]
    assert reminder_link_reference(action="no", token=yes_token) is None

    # Two days later the far one is due, once.
    assert reminders_write(now=now + timedelta(hours=2)) == 2
    assert Notification.objects.filter(booking=far, kind=Kind.REMINDER).count() == 2


def test_a_booking_made_inside_the_window_is_reminded_half_way(jabalpur_photo):
    now = timezone.now()
    late = _booking_in(jabalpur_photo, timedelta(hours=10), now=now, booked_ahead=timedelta(0))
    Booking.objects.filter(pk=late.pk).update(created_at=now)

    assert reminders_write(now=now) == 0  # not the minute after booking
    assert reminders_write(now=now + timedelta(hours=4, minutes=50)) == 0
    assert reminders_write(now=now + timedelta(hours=5, minutes=1)) == 2
    assert reminders_write(now=now + timedelta(hours=6)) == 0


def test_by_default_nothing_gets_a_last_call_or_is_released(jabalpur_photo, settings):
    assert settings.RELEASE_UNCONFIRMED is False
    now = timezone.now()
    booking = _booking_in(jabalpur_photo, timedelta(hours=11), now=now)
    reminders_write(now=booking.slot.starts_at - timedelta(hours=47))

    assert unconfirmed_bookings_process(now=now) == {"released": 0, "last_calls": 0}
    assert unconfirmed_release(now=booking.slot.starts_at - timedelta(hours=1)) == 0
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert _kinds(booking) == [Kind.REMINDER]


@pytest.fixture
def release_on(settings):
    settings.RELEASE_UNCONFIRMED = True
    settings.REMINDER_HOURS = 48
    settings.RELEASE_AFTER_HOURS = 12
    settings.RELEASE_LAST_CALL_MINUTES = 120
    return settings


def _booked(offering, *, starts_in: timedelta, now):
    """A booking made through the service (its seat counted), ten days before its time."""
    slot = _slot_in(offering, starts_in, now=now)
    applicant = ApplicantFactory(email="asha@example.in")
    booking = booking_create(applicant=applicant, slot_id=slot.pk, now=now)
    Booking.objects.filter(pk=booking.pk).update(created_at=slot.starts_at - timedelta(days=10))
    booking.refresh_from_db()
    return booking


def test_an_unconfirmed_booking_gets_the_last_call_then_is_released_and_told(
    jabalpur_photo, release_on
):
    now = timezone.now()
    booking = _booked(jabalpur_photo, starts_in=timedelta(hours=60), now=now)
    start = booking.slot.starts_at
    assert reminders_write(now=start - timedelta(hours=48)) == 2

    # Not yet at the last-call point: nothing.
    assert unconfirmed_bookings_process(now=start - timedelta(hours=13)) == {
        "released": 0,
        "last_calls": 0,
    }
    call_at = start - timedelta(hours=12)
    assert unconfirmed_bookings_process(now=call_at) == {"released": 0, "last_calls": 2}
    assert unconfirmed_bookings_process(now=call_at + timedelta(minutes=5))["last_calls"] == 0
    last_call = Notification.objects.get(booking=booking, kind=Kind.LAST_CALL, channel="sms")
    assert last_call.context["links"]["confirm"].split("/")[-2] == "yes"
    assert last_call.context["release_at"] == (call_at + timedelta(minutes=120)).isoformat()

    # The last-call window is still open: not released.
    assert unconfirmed_release(now=call_at + timedelta(minutes=119)) == 0
    # Then it is: released once, through the cancel service.
    assert unconfirmed_release(now=call_at + timedelta(minutes=121)) == 1
    assert unconfirmed_release(now=call_at + timedelta(minutes=130)) == 0

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert Slot.objects.get(pk=booking.slot_id).booked == 0  # the seat is free again
    event = booking.events.get(kind=BookingEvent.Kind.RELEASED)
    assert event.actor == BookingEvent.Actor.SYSTEM
    assert event.reason == "not confirmed in time"
    told = Notification.objects.filter(booking=booking, kind=Kind.RELEASED)
    assert sorted(told.values_list("channel", flat=True)) == ["email", "sms"]
    assert _kinds(booking) == sorted(
        [Kind.BOOKING_CONFIRMED, Kind.REMINDER, Kind.LAST_CALL, Kind.RELEASED]
    )


def test_a_confirmed_booking_is_never_released(jabalpur_photo, release_on):
    now = timezone.now()
    early = _booked(jabalpur_photo, starts_in=timedelta(hours=60), now=now)
    after_call = _booked(jabalpur_photo, starts_in=timedelta(hours=61), now=now)
    for booking in (early, after_call):
        reminders_write(now=booking.slot.starts_at - timedelta(hours=48))

    booking_attendance_confirm(booking=early, now=early.slot.starts_at - timedelta(hours=40))
    call_at = after_call.slot.starts_at - timedelta(hours=12)
    unconfirmed_bookings_process(now=early.slot.starts_at - timedelta(hours=12))
    unconfirmed_bookings_process(now=call_at)
    assert not Notification.objects.filter(booking=early, kind=Kind.LAST_CALL).exists()
    assert Notification.objects.filter(booking=after_call, kind=Kind.LAST_CALL).exists()
    # Confirmed after its last call, before the release.
    booking_attendance_confirm(booking=after_call, now=call_at + timedelta(minutes=30))

    assert unconfirmed_release(now=call_at + timedelta(hours=3)) == 0
    for booking in (early, after_call):
        booking.refresh_from_db()
        assert booking.status == Booking.Status.CONFIRMED
        assert booking.confirmed_at is not None
        assert booking.events.filter(kind=BookingEvent.Kind.CONFIRMED).count() == 1


def test_who_was_not_asked_in_time_or_was_moved_by_an_outage_is_never_released(
    jabalpur_photo, release_on
):
    now = timezone.now()
    late = _booked(jabalpur_photo, starts_in=timedelta(hours=30), now=now)
    # Booked 14 hours ahead: reminded half-way, 7 hours before, after the last-call point.
    Booking.objects.filter(pk=late.pk).update(created_at=late.slot.starts_at - timedelta(hours=14))
    priority = _booked(jabalpur_photo, starts_in=timedelta(hours=31), now=now)
    Booking.objects.filter(pk=priority.pk).update(priority=True)
    start = late.slot.starts_at

    for hours in (48, 24, 12, 11, 7, 6, 3, 1):
        unconfirmed_bookings_process(now=start - timedelta(hours=hours))
        reminders_write(now=start - timedelta(hours=hours))
    assert Notification.objects.filter(booking=late, kind=Kind.REMINDER).exists()
    assert not Notification.objects.filter(kind=Kind.LAST_CALL, booking=late).exists()
    assert not Notification.objects.filter(kind=Kind.LAST_CALL, booking=priority).exists()
    assert set(
        Booking.objects.filter(pk__in=[late.pk, priority.pk]).values_list("status", flat=True)
    ) == {Booking.Status.CONFIRMED}


def test_confirming_is_recorded_once_and_refused_for_a_booking_no_longer_active(
    jabalpur_photo,
):
    now = timezone.now()
    booking = _booking_in(jabalpur_photo, timedelta(hours=20), now=now)
    booking_attendance_confirm(booking=booking, now=now)
    first = Booking.objects.get(pk=booking.pk).confirmed_at
    booking_attendance_confirm(booking=booking, now=now + timedelta(minutes=5))
    booking.refresh_from_db()
    assert booking.confirmed_at == first == now
    assert booking.events.filter(kind=BookingEvent.Kind.CONFIRMED).count() == 1

    gone = _booking_in(jabalpur_photo, timedelta(hours=21), now=now, status="cancelled")
    with pytest.raises(BookingNotActive):
        booking_attendance_confirm(booking=gone, now=now)
    assert not gone.events.exists()


def test_beat_runs_the_reminders_and_the_releases(settings):
    from rto_booking.celery import app

    schedule = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["slots.tasks.send_reminders"]["schedule"] == timedelta(minutes=15)
    assert schedule["slots.tasks.release_unconfirmed"]["schedule"] == timedelta(minutes=5)
    app.loader.import_default_modules()
    assert {"slots.tasks.send_reminders", "slots.tasks.release_unconfirmed"} <= set(app.tasks)


def test_the_release_task_calls_the_service(jabalpur_photo):
    from slots.tasks import release_unconfirmed_task

    assert release_unconfirmed_task.apply().get() == {"released": 0, "last_calls": 0}
