"""Capacity in the admin: weekly sessions, extra sessions (slots at once), closures, slots."""

from __future__ import annotations

from datetime import time

import pytest
from django.urls import reverse
from django.utils import timezone

from slots.models import Booking, Closure, ExtraSession, Outage, OutageEvent, Slot, WeeklySession
from tests.admin.conftest import DAY, day_slots, fill_day, local_dt

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor_client(client, supervisor_bhopal):
    client.force_login(supervisor_bhopal)
    return client


def _inline_management(prefix, total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_extra_session_creates_its_slots_at_once(supervisor_client, photo_bhopal):
    day = timezone.localdate() + 5 * DAY
    before = len(day_slots(photo_bhopal, day))

    response = supervisor_client.post(
        reverse("admin:slots_extrasession_add"),
        {
            "offering": photo_bhopal.pk,
            "date": str(day),
            "start_time": "14:00",
            "end_time": "16:00",
            "slot_minutes": "30",
            "seats_per_slot": "6",
            "priority_reserve": "2",
            "note": "Recovery after the photo-server outage",
        },
        follow=True,
    )

    assert response.status_code == 200
    assert ExtraSession.objects.filter(offering=photo_bhopal, date=day).exists()
    afternoon = [
        s for s in day_slots(photo_bhopal, day) if timezone.localtime(s.starts_at).hour >= 14
    ]
    assert len(day_slots(photo_bhopal, day)) == before + 4
    assert [(s.capacity, s.priority_reserve) for s in afternoon] == [(6, 2)] * 4
    assert any("4 new" in str(m) for m in response.context["messages"])


def test_extra_session_in_the_past_is_refused(supervisor_client, photo_bhopal):
    response = supervisor_client.post(
        reverse("admin:slots_extrasession_add"),
        {
            "offering": photo_bhopal.pk,
            "date": str(timezone.localdate() - DAY),
            "start_time": "14:00",
            "end_time": "16:00",
            "slot_minutes": "30",
            "seats_per_slot": "6",
            "priority_reserve": "0",
        },
    )
    assert response.status_code == 200
    assert "date" in response.context["adminform"].form.errors
    assert not ExtraSession.objects.exists()


def test_sessions_inline_on_the_offering_regenerates_slots(supervisor_client, photo_bhopal):
    day = timezone.localdate() + 4 * DAY
    session = WeeklySession.objects.filter(offering=photo_bhopal, weekday=day.weekday()).get()
    sessions = list(WeeklySession.objects.filter(offering=photo_bhopal).order_by("pk"))
    data = {**_inline_management("sessions", total=len(sessions), initial=len(sessions))}
    for index, item in enumerate(sessions):
        data.update(
            {
                f"sessions-{index}-id": item.pk,
                f"sessions-{index}-offering": photo_bhopal.pk,
                f"sessions-{index}-weekday": item.weekday,
                f"sessions-{index}-start_time": "10:00",
                # The session of `day` now runs until 13:00: two more slots.
                f"sessions-{index}-end_time": "13:00" if item.pk == session.pk else "12:00",
                f"sessions-{index}-slot_minutes": "30",
                f"sessions-{index}-seats_per_slot": "4",
                f"sessions-{index}-priority_reserve": "1",
            }
        )
    extra_day = timezone.localdate() + 6 * DAY
    data.update(_inline_management("extra_sessions", total=1))
    data.update(
        {
            "extra_sessions-0-offering": photo_bhopal.pk,
            "extra_sessions-0-date": str(extra_day),
            "extra_sessions-0-start_time": "15:00",
            "extra_sessions-0-end_time": "16:00",
            "extra_sessions-0-slot_minutes": "30",
            "extra_sessions-0-seats_per_slot": "5",
            "extra_sessions-0-priority_reserve": "0",
        }
    )

    response = supervisor_client.post(
        reverse("admin:slots_offering_change", args=[photo_bhopal.pk]), data
    )

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    assert len(day_slots(photo_bhopal, day)) == 6
    assert len(day_slots(photo_bhopal, extra_day)) == 4 + 2
    photo_bhopal.refresh_from_db()
    assert photo_bhopal.office.code == "MP-04"  # office and service stay read-only


def test_closure_on_a_booked_day_moves_the_bookings_like_an_outage(
    supervisor_client, supervisor_bhopal, photo_bhopal, bhopal, django_capture_on_commit_callbacks
):
    day = timezone.localdate() + 3 * DAY
    booked = fill_day(photo_bhopal, day, per_slot=1)

    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor_client.post(
            reverse("admin:slots_closure_add"),
            {
                "office": bhopal.pk,
                "date": str(day),
                "reason": "Local holiday",
                "reason_hi": "स्थानीय अवकाश",
            },
            follow=True,
        )

    assert response.status_code == 200
    assert Closure.objects.filter(office=bhopal, date=day).exists()
    outage = Outage.objects.get()
    assert (outage.reason, outage.reason_hi, outage.created_by) == (
        "Local holiday",
        "स्थानीय अवकाश",
        supervisor_bhopal,
    )
    assert list(outage.offices.all()) == [bhopal] and not outage.services.exists()
    assert timezone.localtime(outage.starts_at).time() == time(0, 0)
    assert outage.expected_end - outage.starts_at == DAY
    assert (outage.state, outage.moved) == ("done", 4)
    for booking in Booking.objects.filter(pk__in=[b.pk for b in booked]):
        assert timezone.localdate(booking.slot.starts_at) > day
    declared = OutageEvent.objects.get(outage=outage)
    assert (declared.kind, declared.user) == ("declared", supervisor_bhopal)
    assert declared.details == {"closure": day.isoformat()}
    assert any("being moved" in str(m) for m in response.context["messages"])


def test_closure_on_an_empty_day_records_no_outage(supervisor_client, photo_bhopal, bhopal):
    day = timezone.localdate() + 9 * DAY
    supervisor_client.post(
        reverse("admin:slots_closure_add"),
        {"office": bhopal.pk, "date": str(day), "reason": "Holiday"},
    )
    assert Closure.objects.filter(date=day).exists()
    assert not Outage.objects.exists()


def test_clerks_view_capacity_but_only_supervisors_change_it(bhopal_client, photo_bhopal):
    assert bhopal_client.get(reverse("admin:slots_closure_add")).status_code == 403
    assert bhopal_client.get(reverse("admin:slots_extrasession_add")).status_code == 403
    assert (
        bhopal_client.get(
            reverse("admin:slots_offering_change", args=[photo_bhopal.pk])
        ).status_code
        == 200
    )
    assert bhopal_client.get(reverse("admin:slots_closure_changelist")).status_code == 200


def test_slot_added_by_hand_takes_office_and_service_from_its_offering(
    supervisor_client, photo_bhopal
):
    day = timezone.localdate() + 7 * DAY
    response = supervisor_client.post(
        reverse("admin:slots_slot_add"),
        {
            "offering": photo_bhopal.pk,
            "starts_at_0": str(day),
            "starts_at_1": "17:00",
            "ends_at_0": str(day),
            "ends_at_1": "17:30",
            "capacity": "3",
            "priority_reserve": "0",
        },
    )
    assert response.status_code == 302
    slot = Slot.objects.get(offering=photo_bhopal, starts_at=local_dt(day, 17))
    assert (slot.office_id, slot.service_id) == (photo_bhopal.office_id, photo_bhopal.service_id)


def test_slot_capacity_cannot_drop_below_its_bookings(supervisor_client, photo_bhopal):
    day = timezone.localdate() + 2 * DAY
    fill_day(photo_bhopal, day, per_slot=2)
    slot = day_slots(photo_bhopal, day)[0]
    response = supervisor_client.post(
        reverse("admin:slots_slot_change", args=[slot.pk]),
        {"capacity": "1", "priority_reserve": "0"},
    )
    assert response.status_code == 200
    assert "capacity" in response.context["adminform"].form.errors
    slot.refresh_from_db()
    assert slot.capacity == 4
