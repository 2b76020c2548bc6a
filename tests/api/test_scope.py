"""Scope: a booking moves only within its office and service; check-in only on its day; the
API honours the admin's groups and permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from slots.models import Booking, BookingEvent
from slots.services.bookings import booking_create
from slots.services.outages import outage_create
from tests.api.conftest import _staff, assert_error
from tests.conftest import bring_to_today, in_days
from tests.factories import SlotFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/bookings/"


@pytest.fixture
def today_booking(applicant, bhopal_slot):
    """The applicant's booking, its slot then moved to later today."""
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    bring_to_today(bhopal_slot)
    return booking


def test_applicant_reschedule_to_another_office_answers_409(
    applicant_api, applicant, bhopal_slot, indore_slot
):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    response = applicant_api.post(f"{URL}{booking.reference}/reschedule/", {"slot": indore_slot.pk})
    assert_error(response, 409, "invalid_slot_choice")
    booking.refresh_from_db()
    assert booking.slot_id == bhopal_slot.pk and booking.office.code == "MP-04"


def test_clerk_reschedule_to_another_office_answers_409(
    bhopal_api, applicant, bhopal_slot, indore_slot
):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    response = bhopal_api.post(f"{URL}{booking.reference}/reschedule/", {"slot": indore_slot.pk})
    assert_error(response, 409, "invalid_slot_choice")


def test_check_in_weeks_ahead_answers_409_check_in_not_today(bhopal_api, applicant, bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(20), capacity=2)
    booking = booking_create(applicant=applicant, slot_id=slot.pk)
    response = bhopal_api.post(f"{URL}{booking.reference}/check-in/")
    assert_error(response, 409, "check_in_not_today")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_check_in_on_the_day_is_recorded_as_the_clerk(bhopal_api, clerk_bhopal, today_booking):
    booking = today_booking
    response = bhopal_api.post(f"{URL}{booking.reference}/check-in/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "attended"
    event = booking.events.get(kind=BookingEvent.Kind.ATTENDED)
    assert (event.actor, event.actor_user) == (BookingEvent.Actor.STAFF, clerk_bhopal)


def test_check_in_window_is_a_setting(bhopal_api, today_booking, settings):
    settings.CHECK_IN_EARLY_MINUTES = 0
    booking = today_booking
    response = bhopal_api.post(f"{URL}{booking.reference}/check-in/")
    assert_error(response, 409, "check_in_not_today")


def test_clerk_cancel_is_recorded_as_the_clerk(bhopal_api, clerk_bhopal, applicant, bhopal_slot):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    assert bhopal_api.post(f"{URL}{booking.reference}/cancel/").status_code == 200
    event = booking.events.get(kind=BookingEvent.Kind.CANCELLED)
    assert (event.actor, event.actor_user) == (BookingEvent.Actor.STAFF, clerk_bhopal)


@pytest.fixture
def listed_but_no_group(bhopal):
    """Staff, listed as Bhopal's clerk, but in no group: the admin refuses them."""
    user = UserFactory(username="no-group", is_staff=True)
    bhopal.clerks.add(user)
    return _staff(user)


def test_staff_without_the_clerk_group_cannot_create_an_outage(listed_but_no_group, bhopal):
    response = listed_but_no_group.post(
        "/api/v1/outages/",
        {
            "offices": ["MP-04"],
            "services": [],
            "expected_end": (timezone.now() + timedelta(hours=4)).isoformat(),
            "reason": "Server down",
        },
        format="json",
    )
    assert_error(response, 403, "forbidden")


def test_staff_without_the_clerk_group_cannot_extend_or_resolve(listed_but_no_group, bhopal):
    outage = outage_create(
        offices=[bhopal],
        services=[],
        expected_end=timezone.now() + timedelta(hours=2),
        reason="Server down",
        reason_hi="सर्वर बंद",
    )
    later = (timezone.now() + timedelta(hours=6)).isoformat()
    response = listed_but_no_group.patch(
        f"/api/v1/outages/{outage.pk}/", {"expected_end": later}, format="json"
    )
    assert_error(response, 403, "forbidden")
    assert_error(
        listed_but_no_group.post(f"/api/v1/outages/{outage.pk}/resolve/"), 403, "forbidden"
    )
    outage.refresh_from_db()
    assert outage.resolved_at is None


def test_staff_without_the_clerk_group_cannot_check_in(listed_but_no_group, today_booking):
    booking = today_booking
    assert_error(listed_but_no_group.post(f"{URL}{booking.reference}/check-in/"), 403, "forbidden")


def test_staff_without_the_clerk_group_cannot_cancel(listed_but_no_group, applicant, bhopal_slot):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    assert_error(listed_but_no_group.post(f"{URL}{booking.reference}/cancel/"), 403, "forbidden")
