"""The e-mailed .ics and the slip's calendar.ics are one file: same UID, SEQUENCE and times."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from icalendar import Calendar

from notifications.dispatcher import notifications_dispatch
from slots.models import Booking
from slots.services.bookings import (
    booking_attendance_confirm,
    booking_create,
    booking_reschedule,
)
from slots.services.reminders import reminders_write
from tests.applicants.conftest import sign_in
from tests.conftest import in_days
from tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


def _event(ics: bytes):
    (event,) = Calendar.from_ical(ics).walk("VEVENT")
    return event


def _emailed_event(reference: str):
    """The calendar event attached to the newest e-mail about `reference`."""
    message = [m for m in mail.outbox if reference in m.body][-1]
    (attachment,) = [a for a in message.attachments if a[0].endswith(".ics")]
    return _event(attachment[1] if isinstance(attachment[1], bytes) else attachment[1].encode())


def _slip_event(client, reference: str):
    response = client.get(reverse("applicants:booking_calendar", args=[reference]))
    assert response.status_code == 200
    return response.content, _event(response.content)


FIELDS = ("uid", "sequence", "dtstart", "dtend", "summary", "location", "description", "url")


def _same_event(emailed, slip) -> None:
    for name in FIELDS:
        assert emailed.decoded(name) == slip.decoded(name), name


@pytest.mark.parametrize("language", ["en", "hi"])
def test_the_emailed_and_the_slip_calendar_files_agree_and_a_move_raises_the_sequence(
    client, applicant, bhopal_slot, bhopal_slot_later, language
):
    applicant.preferred_language = language
    applicant.save(update_fields=["preferred_language"])
    client = sign_in(client, applicant)
    client.cookies["django_language"] = language

    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    notifications_dispatch()
    emailed = _emailed_event(booking.reference)
    raw, slip = _slip_event(client, booking.reference)

    _same_event(emailed, slip)
    assert emailed.decoded("sequence") == 0
    assert emailed.decoded("uid").startswith(f"{booking.reference}@")
    # One timezone treatment: UTC times, no TZID a calendar would have to resolve.
    assert emailed.decoded("dtstart") == bhopal_slot.starts_at
    assert emailed.decoded("dtstart").utcoffset() == timedelta(0)
    assert b"TZID" not in raw and b"DTSTART:" in raw and raw.count(b"Z\r\n") >= 3

    booking_reschedule(booking=booking, slot_id=bhopal_slot_later.pk)
    notifications_dispatch()
    moved_emailed = _emailed_event(booking.reference)
    _raw, moved_slip = _slip_event(client, booking.reference)

    _same_event(moved_emailed, moved_slip)
    assert moved_emailed.decoded("uid") == emailed.decoded("uid")
    assert moved_emailed.decoded("sequence") == 1
    assert moved_emailed.decoded("dtstart") == bhopal_slot_later.starts_at


def test_a_reminder_and_a_confirmation_keep_the_sequence_of_the_last_move(
    applicant_client, applicant, bhopal_photo, bhopal_slot
):
    tomorrow = SlotFactory(offering=bhopal_photo, starts_at=in_days(1, hour=16, minute=30))
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    booking_reschedule(booking=booking, slot_id=tomorrow.pk)  # within the reminder's 48 hours
    notifications_dispatch()
    mail.outbox.clear()
    # Booked days ago: its reminder is due now, 48 hours ahead (not half-way to a late booking).
    Booking.objects.filter(pk=booking.pk).update(created_at=in_days(-3))

    assert reminders_write() >= 1
    notifications_dispatch()
    reminded = _emailed_event(booking.reference)
    _raw, slip = _slip_event(applicant_client, booking.reference)

    _same_event(reminded, slip)
    assert reminded.decoded("sequence") == 1

    booking_attendance_confirm(booking=Booking.objects.get(pk=booking.pk))  # not a time change
    _raw, confirmed = _slip_event(applicant_client, booking.reference)
    assert confirmed.decoded("sequence") == 1
