"""Recovery capacity (issue part 3): the mark-down preview tells when the last affected
applicant would be served at today's free capacity and proposes extra sessions — longer hours,
a Saturday — that bring it within RECOVERY_TARGET_DAYS; adding them before confirming lets the
rescheduling use them first. Real PostgreSQL; tasks run in-process."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from slots.errors import SlotFull
from slots.integrity import integrity_violations
from slots.models import Booking, Closure, ExtraSession, Slot
from slots.services.bookings import booking_create
from slots.services.capacity import recovery_sessions_add
from slots.services.outages import outage_create, outage_preview
from slots.services.slot_generation import slots_generate
from tests.factories import ApplicantFactory, fill_slots, local_dt, next_monday

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


MONDAY = next_monday()


def _preview(bhopal, day):
    return outage_preview(
        offices=[bhopal],
        services=None,
        starts_at=local_dt(day, 0),
        expected_end=local_dt(day + DAY, 0),
    )


def test_an_outage_served_in_time_proposes_nothing(bhopal, photo_weekdays):
    fill_slots(photo_weekdays, MONDAY)
    preview = _preview(bhopal, MONDAY)
    assert preview.recovery_target == local_dt(MONDAY + 4 * DAY, 0)  # back Tuesday + 3 days
    assert preview.behind_target == 0 and preview.proposed_sessions == []
    assert preview.last_new == local_dt(MONDAY + DAY, 10, 30)


def test_longer_hours_bring_the_last_applicant_within_the_target_and_are_used_first(
    bhopal, photo_weekdays
):
    monday = fill_slots(photo_weekdays, MONDAY)  # 4 bookings
    for offset in (1, 2, 3):  # Tuesday to Thursday full: at today's capacity, Friday
        fill_slots(photo_weekdays, MONDAY + offset * DAY)
    preview = _preview(bhopal, MONDAY)
    assert preview.last_new == local_dt(MONDAY + 4 * DAY, 10, 30)
    assert preview.behind_target == 4
    [session] = preview.proposed_sessions
    assert (session.kind, session.date, session.start_time, session.end_time) == (
        "longer_hours",
        MONDAY + DAY,
        time(11),
        time(13),
    )
    assert session.seats == 8
    assert preview.behind_target_with_sessions == 0
    assert preview.last_new_with_sessions == local_dt(MONDAY + DAY, 11, 30)

    recovery_sessions_add(sessions=preview.proposed_sessions, note="Recovery: camera")
    extra = ExtraSession.objects.get(offering=photo_weekdays, date=MONDAY + DAY)
    assert extra.priority_reserve == extra.seats_per_slot == 2
    overtime = Slot.objects.filter(
        offering=photo_weekdays, starts_at__gte=local_dt(MONDAY + DAY, 11)
    ).filter(starts_at__lt=local_dt(MONDAY + DAY, 13))
    assert overtime.count() == 4
    # Held for the moved bookings: an ordinary applicant cannot take them meanwhile.
    with pytest.raises(SlotFull):
        booking_create(applicant=ApplicantFactory(), slot_id=overtime.first().pk)

    again = _preview(bhopal, MONDAY)
    assert again.behind_target == 0 and again.proposed_sessions == []

    with TestCase.captureOnCommitCallbacks(execute=True):
        outage_create(
            offices=[bhopal],
            services=None,
            starts_at=local_dt(MONDAY, 0),
            expected_end=local_dt(MONDAY + DAY, 0),
            reason="Camera broken",
        )
    moved = Booking.objects.filter(pk__in=[b.pk for b in monday]).select_related("slot")
    assert {b.slot.starts_at for b in moved} == {
        local_dt(MONDAY + DAY, 11),
        local_dt(MONDAY + DAY, 11, 30),
    }
    assert integrity_violations() == {}


def test_a_saturday_is_proposed_when_the_working_days_are_closed(bhopal, photo_weekdays):
    thursday, friday = MONDAY + 3 * DAY, MONDAY + 4 * DAY
    fill_slots(photo_weekdays, thursday)
    Closure.objects.create(office=bhopal, date=friday, reason="Local holiday")
    slots_generate(days=(MONDAY - timezone.localdate()).days + 14)
    preview = _preview(bhopal, thursday)  # back Friday 00:00 (closed); target Monday 00:00
    assert preview.behind_target == 4
    [session] = preview.proposed_sessions
    assert (session.kind, session.date, session.start_time, session.end_time) == (
        "saturday",
        thursday + 2 * DAY,
        time(10),
        time(11),
    )
    assert preview.behind_target_with_sessions == 0
