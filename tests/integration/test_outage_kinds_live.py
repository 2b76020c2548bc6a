"""Open-ended and partial outages end to end, with a real Celery worker process (the README's
plain `celery -A rto_booking worker`): hold → end given, hold → resolved, partial at 50 %."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from notifications.models import Notification
from slots.integrity import integrity_violations
from slots.models import Booking, Outage, Slot
from slots.services.outages import outage_create, outage_extend, outage_resolve
from slots.services.slot_generation import slots_generate
from tests.factories import daily_sessions, local_dt
from tests.integration.test_outage_live import _bulk_bookings
from tests.live import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
WAIT = 90


def _state(outage):
    return Outage.objects.values_list("state", "on_hold", "moved").get(pk=outage.pk)


def _sms_each(kind) -> set[int]:
    counts = Counter(
        Notification.objects.filter(kind=kind, channel="sms").values_list("booking_id", flat=True)
    )
    return set(counts.values())


def test_open_ended_outage_holds_then_its_end_places_everyone_once(
    broker, workers, bhopal_photo, bhopal
):
    daily_sessions(bhopal_photo, end=(17, 0), seats=12, reserve=2)
    slots_generate(days=10)
    tomorrow = timezone.localdate() + timedelta(days=1)
    total = _bulk_bookings(bhopal_photo, tomorrow, days=1, per_slot=10)  # 14 × 10 = 140
    workers.and_wait(redis_url=broker.url)

    with transaction.atomic():
        outage = outage_create(
            offices=[bhopal], expected_end=None, reason="Licence server down, NIC informed"
        )
    assert wait_for(lambda: _state(outage) == ("done", total, 0), timeout=WAIT), _state(outage)
    assert Booking.objects.filter(status="on_hold", held_by=outage).count() == total
    assert wait_for(lambda: _sms_each("on_hold") == {1}, timeout=WAIT)
    assert integrity_violations() == {}

    end = local_dt(tomorrow + timedelta(days=1), 0)
    with transaction.atomic():
        outage_extend(outage=outage, expected_end=end)
    assert wait_for(lambda: _state(outage) == ("done", 0, total), timeout=WAIT), _state(outage)
    placed = Booking.objects.filter(held_by__isnull=True, status="confirmed", priority=True)
    assert placed.filter(slot__starts_at__gte=end).count() == total
    assert wait_for(
        lambda: (
            Notification.objects.filter(kind="rescheduled_outage", channel="sms").count() == total
        ),
        timeout=WAIT,
    )
    assert _sms_each("rescheduled_outage") == {1} and _sms_each("on_hold") == {1}
    assert integrity_violations() == {}


def test_resolved_open_ended_outage_and_a_partial_one_with_a_worker(
    broker, workers, bhopal_photo, bhopal
):
    daily_sessions(bhopal_photo, end=(17, 0), seats=12, reserve=2)
    slots_generate(days=10)
    tomorrow = timezone.localdate() + timedelta(days=1)
    total = _bulk_bookings(bhopal_photo, tomorrow, days=1, per_slot=10)
    workers.and_wait(redis_url=broker.url)

    with transaction.atomic():
        outage = outage_create(offices=[bhopal], expected_end=None, reason="Photo server down")
    assert wait_for(lambda: _state(outage)[:2] == ("done", total), timeout=WAIT), _state(outage)
    with transaction.atomic():
        outage_resolve(outage=outage)
    # Tomorrow's times are hours ahead: every held booking keeps its time.
    assert wait_for(lambda: _state(outage) == ("done", 0, 0), timeout=WAIT), _state(outage)
    assert Booking.objects.filter(status="confirmed", held_by__isnull=True).count() == total
    assert set(Slot.objects.filter(starts_at__date=tomorrow).values_list("booked", flat=True)) <= {
        10
    }
    assert wait_for(lambda: _sms_each("service_restored") == {1}, timeout=WAIT)
    assert integrity_violations() == {}

    # The same day at half its seats (two counters of four): 6 of 12 a slot, so of the
    with transaction.atomic():
        partial = outage_create(
            offices=[bhopal],
            expected_end=local_dt(tomorrow + timedelta(days=1), 0),
            capacity_percent=50,
            reason="Two photo counters of four work",
        )
    # 10 booked in each slot the first 6 stay and 4 move after the end.
    moved = total * 4 // 10
    assert wait_for(lambda: _state(partial) == ("done", 0, moved), timeout=WAIT), _state(partial)
    window = Slot.objects.filter(starts_at__lt=partial.expected_end, starts_at__gte=timezone.now())
    assert set(window.filter(starts_at__date=tomorrow).values_list("capacity", "booked")) == {
        (6, 6)
    }
    assert integrity_violations() == {}
    with transaction.atomic():
        outage_resolve(outage=partial)
    assert set(
        Slot.objects.filter(starts_at__date=tomorrow).values_list("capacity", flat=True)
    ) == {12}
