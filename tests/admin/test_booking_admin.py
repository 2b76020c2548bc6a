"""Bookings at the desk: search, filters, check-in and no-show, history, the day sheet."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from slots.models import Booking, BookingEvent
from slots.services.bookings import booking_cancel, booking_create
from tests.admin.conftest import DAY, day_slots, fill_day
from tests.conftest import bring_to_today
from tests.factories import ApplicantFactory, BookingFactory, SlotFactory, local_dt

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:slots_booking_changelist")
DAY_SHEET = reverse("admin:slots_booking_day_sheet")


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def _results(response):
    return {b.pk for b in response.context["cl"].result_list}


@pytest.fixture
def past_booking(bhopal_photo):
    """A confirmed booking whose slot was yesterday morning (made by the factory: no seat count)."""
    day = timezone.localdate() - DAY
    slot = SlotFactory(
        offering=bhopal_photo, starts_at=local_dt(day, 10), ends_at=local_dt(day, 10, 30), booked=1
    )
    return BookingFactory(slot=slot)


def test_search_by_reference_application_number_and_mobile(bhopal_client, photo_bhopal):
    day = timezone.localdate() + 2 * DAY
    applicant = ApplicantFactory(application_number="MP0420260001", mobile="+919876543210")
    booking = booking_create(applicant=applicant, slot_id=day_slots(photo_bhopal, day)[0].pk)
    fill_day(photo_bhopal, day, per_slot=1)

    for query in (booking.reference, "MP0420260001", "9876543210"):
        assert _results(bhopal_client.get(CHANGELIST, {"q": query})) == {booking.pk}, query


def test_filters_by_day_service_status_and_priority(bhopal_client, photo_bhopal):
    day = timezone.localdate() + 2 * DAY
    today_ones = fill_day(photo_bhopal, day, per_slot=1)
    other_day = fill_day(photo_bhopal, day + DAY, per_slot=1)
    Booking.objects.filter(pk=today_ones[0].pk).update(priority=True)
    booking_cancel(booking=today_ones[1])

    by_day = {
        "slot__starts_at__year": day.year,
        "slot__starts_at__month": day.month,
        "slot__starts_at__day": day.day,
    }
    assert _results(bhopal_client.get(CHANGELIST, by_day)) == {b.pk for b in today_ones}
    assert _results(bhopal_client.get(CHANGELIST, {"priority__exact": "1"})) == {today_ones[0].pk}
    assert _results(bhopal_client.get(CHANGELIST, {"status__exact": "cancelled"})) == {
        today_ones[1].pk
    }
    response = bhopal_client.get(CHANGELIST)
    assert {f.title for f in response.context["cl"].filter_specs} >= {"status", "priority"}
    assert response.context["cl"].date_hierarchy == "slot__starts_at"
    assert len(other_day) == 4


def test_check_in_action_reports_successes_and_refusals(bhopal_client, clerk_bhopal, photo_bhopal):
    day = timezone.localdate() + 2 * DAY
    first, second, cancelled, _rest = fill_day(photo_bhopal, day, per_slot=1)
    booking_cancel(booking=cancelled)
    for booking in (first, second):
        bring_to_today(booking.slot)

    response = bhopal_client.post(
        CHANGELIST,
        {"action": "check_in", "_selected_action": [first.pk, second.pk, cancelled.pk]},
        follow=True,
    )

    shown = _messages(response)
    assert "2 applicants checked in." in shown
    assert f"{cancelled.reference} not changed: This booking is no longer active." in shown
    assert set(
        Booking.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)
    ) == {"attended"}
    events = BookingEvent.objects.filter(booking=first, kind="attended")
    assert events.get().actor == "staff"
    checked_in = BookingEvent.objects.filter(kind="attended", actor_user=clerk_bhopal)
    assert set(checked_in.values_list("booking_id", flat=True)) == {first.pk, second.pk}


def test_no_show_action_only_after_the_slot(
    bhopal_client, clerk_bhopal, photo_bhopal, past_booking
):
    future = fill_day(photo_bhopal, timezone.localdate() + 2 * DAY, per_slot=1)[0]

    response = bhopal_client.post(
        CHANGELIST,
        {"action": "mark_no_show", "_selected_action": [past_booking.pk, future.pk]},
        follow=True,
    )

    shown = _messages(response)
    assert "1 booking marked as no-show." in shown
    assert any(
        m.startswith(f"{future.reference} not changed: A booking can be marked") for m in shown
    )
    past_booking.refresh_from_db()
    future.refresh_from_db()
    assert (past_booking.status, future.status) == ("no_show", "confirmed")
    assert BookingEvent.objects.filter(
        booking=past_booking, kind="no_show", actor="staff", actor_user__isnull=False
    ).exists()


def test_booking_page_has_history_notifications_and_desk_buttons(
    bhopal_client, photo_bhopal, past_booking
):
    booking = fill_day(photo_bhopal, timezone.localdate() + 2 * DAY, per_slot=1)[0]
    bring_to_today(booking.slot)
    page = bhopal_client.get(reverse("admin:slots_booking_change", args=[booking.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "Booking confirmed" in html  # the notification inline (kind)
    assert re.search(r"<td class=\"field-kind\">\s*<p>Booked</p>", html)  # the history inline
    assert 'id="booking-check-in"' in html and 'id="booking-no-show"' not in html
    assert 'name="_save"' not in html

    response = bhopal_client.post(
        reverse("admin:slots_booking_check_in", args=[booking.pk]), follow=True
    )
    assert "1 applicant checked in." in _messages(response)
    past_page = bhopal_client.get(reverse("admin:slots_booking_change", args=[past_booking.pk]))
    assert 'id="booking-no-show"' in past_page.content.decode()
    response = bhopal_client.post(
        reverse("admin:slots_booking_no_show", args=[past_booking.pk]), follow=True
    )
    assert "1 booking marked as no-show." in _messages(response)


def test_bookings_cannot_be_added_edited_or_deleted_by_hand(bhopal_client, photo_bhopal):
    booking = fill_day(photo_bhopal, timezone.localdate() + 2 * DAY, per_slot=1)[0]
    assert bhopal_client.get(reverse("admin:slots_booking_add")).status_code == 403
    assert (
        bhopal_client.get(reverse("admin:slots_booking_delete", args=[booking.pk])).status_code
        == 403
    )
    bhopal_client.post(
        reverse("admin:slots_booking_change", args=[booking.pk]), {"status": "cancelled"}
    )
    booking.refresh_from_db()
    assert booking.status == "confirmed"


def test_day_sheet_groups_by_slot_with_priority_first_and_counts(bhopal_client, photo_bhopal):
    day = timezone.localdate() + 2 * DAY
    ten, half_past, *_ = day_slots(photo_bhopal, day)
    early = booking_create(applicant=ApplicantFactory(full_name="Asha Early"), slot_id=ten.pk)
    late_priority = booking_create(
        applicant=ApplicantFactory(full_name="Priya Priority"), slot_id=ten.pk
    )
    attended = booking_create(applicant=ApplicantFactory(full_name="Arun Attended"), slot_id=ten.pk)
    cancelled = booking_create(
        applicant=ApplicantFactory(full_name="Chetan Cancelled"), slot_id=half_past.pk
    )
    later = booking_create(applicant=ApplicantFactory(full_name="Lata Later"), slot_id=half_past.pk)
    Booking.objects.filter(pk=late_priority.pk).update(priority=True)
    Booking.objects.filter(pk=attended.pk).update(status="attended")
    booking_cancel(booking=cancelled)

    response = bhopal_client.get(
        DAY_SHEET, {"office": "MP-04", "date": str(day), "service": "photo-biometrics"}
    )

    assert response.status_code == 200
    sheet = response.context["sheet"]
    first, second = sheet.slots[0], sheet.slots[1]
    assert [b.reference for b in first.bookings] == [
        late_priority.reference,
        early.reference,
        attended.reference,
    ]
    assert [b.reference for b in second.bookings] == [later.reference]  # cancelled left out
    assert (first.counts.booked, first.counts.attended, first.counts.priority) == (3, 1, 1)
    totals = sheet.totals
    assert (totals.booked, totals.attended, totals.no_show, totals.priority) == (4, 1, 0, 1)
    html = response.content.decode()
    assert html.index("Priya Priority") < html.index("Asha Early") < html.index("Lata Later")
    assert "Chetan Cancelled" not in html
    assert "rto_admin/admin.css" in html and "10:00–10:30" in html  # print rules live there
    assert "3 of 4 seats booked" in html


def test_day_sheet_form_defaults_to_the_clerks_office_and_today(bhopal_client, photo_bhopal):
    response = bhopal_client.get(DAY_SHEET)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial == {"date": timezone.localdate(), "office": "MP-04"}
    assert response.context["sheet"] is None
    assert (
        reverse("admin:slots_booking_day_sheet") in bhopal_client.get(CHANGELIST).content.decode()
    )


def _hold(booking):
    """What an open-ended outage leaves: the booking on hold, its seat given back."""
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.ON_HOLD, priority=True)
    type(booking.slot).objects.filter(pk=booking.slot_id).update(booked=0)


@pytest.mark.parametrize(
    ("language", "section", "status"),
    [
        ("en", "On hold — do not expect today", "On hold"),
        ("hi", "रोकी गई बुकिंग — आज इनके आने की उम्मीद न करें", "रोकी गई"),
    ],
)
def test_day_sheet_lists_held_bookings_apart(
    bhopal_client, photo_bhopal, language, section, status
):
    day = timezone.localdate() + 2 * DAY
    ten, half_past, *_ = day_slots(photo_bhopal, day)
    coming = booking_create(applicant=ApplicantFactory(full_name="Asha Coming"), slot_id=ten.pk)
    held = booking_create(applicant=ApplicantFactory(full_name="Harish Held"), slot_id=half_past.pk)
    _hold(held)

    response = bhopal_client.get(
        DAY_SHEET,
        {"office": "MP-04", "date": str(day), "service": "photo-biometrics"},
        HTTP_ACCEPT_LANGUAGE=language,
    )

    sheet = response.context["sheet"]
    assert [b.reference for b in sheet.held] == [held.reference]
    assert [b.reference for row in sheet.slots for b in row.bookings] == [coming.reference]
    assert sheet.totals.booked == 1
    html = response.content.decode()
    assert section in html
    held_table = html.split('id="day-sheet-held"')[1].split("</table>")[0]
    assert "Harish Held" in held_table and held.reference in held_table and status in held_table
    assert "Asha Coming" not in held_table
    assert html.index("Asha Coming") < html.index(section)


def test_day_sheet_without_held_bookings_has_no_held_section(bhopal_client, photo_bhopal):
    day = timezone.localdate() + 2 * DAY
    fill_day(photo_bhopal, day, per_slot=1)
    html = bhopal_client.get(
        DAY_SHEET, {"office": "MP-04", "date": str(day), "service": "photo-biometrics"}
    ).content.decode()
    assert 'id="day-sheet-held"' not in html


@pytest.mark.parametrize(
    ("language", "says"), [("en", "On hold: do not expect"), ("hi", "रोकी गई: आने की उम्मीद न करें")]
)
def test_booking_list_marks_held_bookings(bhopal_client, photo_bhopal, language, says):
    day = timezone.localdate() + 2 * DAY
    held, *_ = fill_day(photo_bhopal, day, per_slot=1)
    _hold(held)

    html = bhopal_client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert html.count(f'<strong class="status-on-hold">{says}</strong>') == 1
    filtered = bhopal_client.get(CHANGELIST, {"status__exact": "on_hold"})
    assert _results(filtered) == {held.pk}


def test_check_in_button_only_on_the_appointments_day(bhopal_client, photo_bhopal):
    booking = fill_day(photo_bhopal, timezone.localdate() + 2 * DAY, per_slot=1)[0]
    url = reverse("admin:slots_booking_change", args=[booking.pk])
    html = bhopal_client.get(url).content.decode()
    assert 'id="booking-check-in"' not in html
    assert "Check-in opens on the day of the appointment." in html
    response = bhopal_client.post(
        reverse("admin:slots_booking_check_in", args=[booking.pk]), follow=True
    )
    assert any("only on the day of the appointment" in m for m in _messages(response))
    booking.refresh_from_db()
    assert booking.status == "confirmed"
