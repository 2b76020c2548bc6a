from datetime import timedelta

import pytest
from django.utils import timezone

from slots.models import Closure, Outage
from slots.selectors import availability_for_office
from slots.services.bookings import booking_create
from slots.services.slot_generation import slots_generate
from tests.factories import ApplicantFactory, daily_sessions, local_dt

pytestmark = pytest.mark.django_db


@pytest.fixture
def month(bhopal_photo):
    daily_sessions(bhopal_photo, end=(17, 0), seats=4, reserve=1)
    slots_generate(days=40)
    return bhopal_photo


def test_thirty_one_days_cost_three_queries_whatever_the_slot_count(
    month, django_assert_num_queries
):
    today = timezone.localdate()
    with django_assert_num_queries(3):
        days = availability_for_office(
            offering=month, date_from=today, date_to=today + timedelta(days=30)
        )
    assert len(days) == 31
    assert sum(len(d.slots) for d in days) == 31 * 14


def test_day_statuses_open_full_closed_outage(month, bhopal):
    today = timezone.localdate()
    closed_day = today + timedelta(days=5)
    outage_day = today + timedelta(days=6)
    full_day = today + timedelta(days=7)
    Closure.objects.create(office=bhopal, date=closed_day, reason="Holi", reason_hi="होली")
    outage = Outage.objects.create(
        reason="Server down",
        starts_at=local_dt(outage_day, 0),
        expected_end=local_dt(outage_day + timedelta(days=1), 0),
    )
    outage.offices.add(bhopal)
    from slots.models import Slot

    Slot.objects.filter(
        office=bhopal, starts_at__gte=local_dt(full_day, 0), starts_at__lt=local_dt(full_day, 23)
    ).update(booked=4)

    days = {
        d.date: d
        for d in availability_for_office(
            offering=month, date_from=today + timedelta(days=3), date_to=full_day
        )
    }
    assert days[closed_day].status == "closed" and days[closed_day].reason == "Holi"
    assert days[closed_day].slots == []
    assert days[outage_day].status == "outage" and days[outage_day].reason == "Server down"
    assert all(s.available == 0 for s in days[outage_day].slots)
    assert days[full_day].status == "full"
    assert days[today + timedelta(days=3)].status == "open"


def test_available_counts_held_seats_only_for_priority(month):
    far_day = timezone.localdate() + timedelta(days=10)
    (day,) = availability_for_office(offering=month, date_from=far_day, date_to=far_day)
    assert {s.available for s in day.slots} == {3}  # 4 seats, 1 held back
    (day,) = availability_for_office(
        offering=month, date_from=far_day, date_to=far_day, priority=True
    )
    assert {s.available for s in day.slots} == {4}


def test_booked_seats_and_past_slots_show_as_unavailable(month):
    today = timezone.localdate()
    (day,) = availability_for_office(
        offering=month, date_from=today + timedelta(days=10), date_to=today + timedelta(days=10)
    )
    slot = day.slots[0].slot
    booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    (day,) = availability_for_office(
        offering=month, date_from=today + timedelta(days=10), date_to=today + timedelta(days=10)
    )
    assert day.slots[0].available == 2
    (past,) = availability_for_office(
        offering=month, date_from=today, date_to=today, now=local_dt(today, 23, 59)
    )
    assert {s.available for s in past.slots} == {0}
