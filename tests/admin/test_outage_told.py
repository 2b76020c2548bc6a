"""Told in time on the outage page and in /metrics: per channel, sent / waiting / delivery,
and the seconds from the mark-down to the last message accepted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from slots.models import BookingEvent, Outage
from slots.told import outage_told, told_metrics
from tests.factories import (
    ApplicantFactory,
    BookingEventFactory,
    BookingFactory,
    NotificationFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def told_outage(bhopal):
    outage = Outage.objects.create(
        starts_at=timezone.now(),
        expected_end=timezone.now() + timedelta(hours=4),
        reason="Licence server down",
        state=Outage.State.DONE,
    )
    outage.offices.add(bhopal)
    sent_at = outage.created_at + timedelta(seconds=42)
    for number, (delivery, email) in enumerate(
        [("delivered", "a@example.in"), ("undelivered", ""), ("", "")]
    ):
        booking = BookingFactory(applicant=ApplicantFactory(email=email))
        event = BookingEventFactory(
            booking=booking, kind=BookingEvent.Kind.RESCHEDULED, outage=outage
        )
        NotificationFactory(
            booking=booking,
            event_key=f"event:{event.pk}",
            status="sent",
            sent_at=sent_at - timedelta(seconds=number),
            provider_id=f"gw-{number}",
            delivery=delivery,
        )
        if email:
            NotificationFactory(
                booking=booking, event_key=f"event:{event.pk}", channel="email", status="pending"
            )
    # A message of another event is not this outage's.
    NotificationFactory(status="sent", sent_at=sent_at + timedelta(hours=1))
    return outage


def test_outage_told_counts_each_channel_and_the_time_to_the_last_message(told_outage):
    told = outage_told(told_outage)
    assert told["sms"] == {
        "channel": "sms",
        "total": 3,
        "sent": 3,
        "waiting": 0,
        "dead": 0,
        "superseded": 0,
        "delivered": 1,
        "undelivered": 1,
        "no_report": 1,
        "seconds_to_last": 42.0,
        "complete": True,
    }
    assert told["email"]["waiting"] == 1 and told["email"]["seconds_to_last"] is None
    assert told["email"]["complete"] is False


def test_the_outage_page_shows_the_messages_table(root_client, told_outage):
    page = root_client.get(reverse("admin:slots_outage_change", args=[told_outage.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="outage-told"' in html and "Time to notify" in html
    assert "42.0 s" in html


def test_metrics_report_the_time_to_notify(told_outage):
    (gauge,) = told_metrics()
    samples = {(s.labels["outage"], s.labels["channel"]): s for s in gauge.samples}
    sample = samples[(str(told_outage.pk), "sms")]
    assert sample.value == 42.0 and sample.labels["complete"] == "true"
    assert (str(told_outage.pk), "email") not in samples  # nothing accepted yet
    assert Notification.objects.count() == 5
