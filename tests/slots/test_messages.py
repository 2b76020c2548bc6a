"""A booking's events produce their outbox rows: one per event and channel, in the applicant's
language, with everything the templates need (slots/messages.py)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from notifications.models import Notification
from slots.messages import message_rows_for_events, messages_write_for_events
from slots.models import BookingEvent
from tests.factories import ApplicantFactory

Kind = Notification.Kind
pytestmark = pytest.mark.django_db


def test_one_row_per_event_and_channel(make_event):
    with_email = make_event(applicant=ApplicantFactory(email="a@example.in"))
    sms_only = make_event(applicant=ApplicantFactory(email=""))

    written = messages_write_for_events(events=[with_email, sms_only], kind=Kind.BOOKING_CONFIRMED)

    assert len(written) == 3
    rows = Notification.objects.order_by("event_key", "channel")
    assert {(r.event_key, r.channel, r.recipient) for r in rows} == {
        (f"event:{with_email.pk}", "email", "a@example.in"),
        (f"event:{with_email.pk}", "sms", with_email.booking.applicant.mobile),
        (f"event:{sms_only.pk}", "sms", sms_only.booking.applicant.mobile),
    }
    assert all(r.status == "pending" and r.body == "" for r in rows)  # rendered at send time


def test_writing_the_same_events_twice_adds_nothing(make_event):
    event = make_event()
    messages_write_for_events(events=[event], kind=Kind.BOOKING_CONFIRMED)
    messages_write_for_events(events=[event], kind=Kind.BOOKING_CONFIRMED)
    assert Notification.objects.count() == 2


def test_row_language_follows_the_applicant(make_event, hindi_applicant):
    event = make_event(applicant=hindi_applicant)
    messages_write_for_events(events=[event], kind=Kind.BOOKING_CONFIRMED)
    assert set(Notification.objects.values_list("language", flat=True)) == {"hi"}


def test_rows_for_events_run_one_query_for_the_calendar_sequence(
    make_event, outage, django_assert_num_queries
):
    events = [
        make_event(kind=BookingEvent.Kind.RESCHEDULED, outage=outage, from_hour=9) for _ in range(3)
    ]
    with django_assert_num_queries(1):
        rows = message_rows_for_events(
            events=events, kind=Kind.RESCHEDULED_OUTAGE, extra={"moved_at": timezone.now()}
        )
    assert len(rows) == 6
    assert {row.context["calendar_sequence"] for row in rows} == {1}


def test_rows_for_new_bookings_run_no_query(make_event, django_assert_num_queries):
    events = [make_event() for _ in range(3)]
    with django_assert_num_queries(0):
        rows = message_rows_for_events(events=events, kind=Kind.BOOKING_CONFIRMED)
    assert {row.context["calendar_sequence"] for row in rows} == {0}


def test_context_carries_what_the_templates_need(make_event, outage, settings):
    settings.SITE_URL = "https://rtoslot.mp.gov.in"
    event = make_event(kind=BookingEvent.Kind.RESCHEDULED, outage=outage, from_hour=9)

    (row, _email) = message_rows_for_events(
        events=[event], kind=Kind.RESCHEDULED_OUTAGE, extra={"reason": "Server failure"}
    )

    context = json.loads(json.dumps(row.context))  # plain JSON, nothing else
    booking = event.booking
    assert context["reference"] == booking.reference
    assert context["full_name"] == booking.applicant.full_name
    assert context["office"]["name_hi"] == "आरटीओ जबलपुर"
    assert context["office"]["address"].startswith("Civic Centre")
    assert context["service"]["slug"] == "photo-biometrics"
    assert context["slot"]["starts_at"] == booking.slot.starts_at.isoformat()
    assert context["from_starts_at"] == event.from_starts_at.isoformat()
    assert context["to_starts_at"] == event.to_starts_at.isoformat()
    assert context["outage"] == {
        "id": outage.pk,
        "reason": "Licence server down",
        "reason_hi": "लाइसेंस सर्वर बंद",
        "capacity_percent": 0,
    }
    assert context["reason"] == "Server failure"
    assert context["links"]["booking"] == (
        f"https://rtoslot.mp.gov.in/my/bookings/{booking.reference}/"
    )


def test_unknown_kind_is_refused(make_event):
    with pytest.raises(ValueError, match="Unknown notification kind"):
        message_rows_for_events(events=[make_event()], kind="party")
