"""The booking flow with the test client: office → service → day → time → confirm → slip."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from slots.models import Booking, Closure, Outage, Slot
from tests.applicants.conftest import day_ahead
from tests.factories import BookingFactory, SlotFactory, local_dt

pytestmark = pytest.mark.django_db


def test_home_links_offices_and_services_to_the_booking_flow(client, slots):
    html = client.get(reverse("home")).content.decode()
    assert reverse("applicants:book_services", args=["MP-04"]) in html
    assert reverse("applicants:book_days", args=["MP-04", "photo-biometrics"]) in html


def test_the_whole_flow_books_a_seat_and_shows_the_slip(applicant_client, applicant, slots):
    html = applicant_client.get(reverse("applicants:book_offices")).content.decode()
    services_url = reverse("applicants:book_services", args=["MP-04"])
    assert services_url in html and "RTO Bhopal" in html

    html = applicant_client.get(services_url).content.decode()
    days_url = reverse("applicants:book_days", args=["MP-04", "photo-biometrics"])
    assert days_url in html and "Photo and biometrics" in html

    html = applicant_client.get(days_url).content.decode()
    day = day_ahead(3)
    times_url = reverse("applicants:book_times", args=["MP-04", "photo-biometrics", day])
    assert times_url in html
    assert "8 seats free" in html  # two slots of 4 on that day

    html = applicant_client.get(times_url).content.decode()
    slot = slots[(3, 10, 30)]
    confirm_url = reverse("applicants:book_confirm", args=[slot.pk])
    assert confirm_url in html and "10:30–11:00" in html and "4 seats free" in html

    html = applicant_client.get(confirm_url).content.decode()
    assert "Confirm your booking" in html and "10:30–11:00" in html

    response = applicant_client.post(confirm_url, follow=True)
    booking = Booking.objects.get(applicant=applicant)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse(
        "applicants:booking_slip", args=[booking.reference]
    )
    assert booking.slot == slot
    assert f"Booked. Your reference is {booking.reference}." in html
    assert f'id="reference">{booking.reference}<' in html
    slot.refresh_from_db()
    assert slot.booked == 1


def test_the_calendar_marks_closed_and_outage_days_with_their_reason(client, slots, bhopal, photo):
    Closure.objects.create(office=bhopal, date=day_ahead(4), reason="Republic Day")
    outage = Outage.objects.create(
        reason="Photo-capture server down",
        reason_hi="फोटो सर्वर बंद",
        starts_at=local_dt(day_ahead(3), 9),
        expected_end=local_dt(day_ahead(3), 18),
    )
    outage.offices.add(bhopal)
    outage.services.add(photo)
    days_url = reverse("applicants:book_days", args=["MP-04", "photo-biometrics"])
    html = client.get(days_url).content.decode()
    assert "Closed: Republic Day" in html
    assert "Service down: Photo-capture server down" in html
    # Neither day is a link.
    for days in (3, 4):
        times_url = reverse(
            "applicants:book_times", args=["MP-04", "photo-biometrics", day_ahead(days)]
        )
        assert times_url not in html
    hindi = client.get(days_url, HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert "फोटो सर्वर बंद" in hindi


def test_the_calendar_covers_the_booking_horizon(client, slots, settings):
    html = client.get(
        reverse("applicants:book_days", args=["MP-04", "photo-biometrics"])
    ).content.decode()
    assert html.count('class="day ') == settings.BOOKING_HORIZON_DAYS + 1


def test_browsing_is_open_but_confirming_needs_a_sign_in(client, slots):
    confirm_url = reverse("applicants:book_confirm", args=[slots[(3, 10, 0)].pk])
    response = client.get(confirm_url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("applicants:signin"))
    assert client.post(confirm_url).status_code == 302
    assert not Booking.objects.exists()


def test_unknown_office_service_or_day_is_404(client, slots):
    assert client.get(reverse("applicants:book_services", args=["MP-99"])).status_code == 404
    assert client.get(reverse("applicants:book_days", args=["MP-04", "no-such"])).status_code == 404
    too_far = timezone.localdate() + timedelta(days=400)
    url = reverse("applicants:book_times", args=["MP-04", "photo-biometrics", too_far])
    assert client.get(url).status_code == 404
    assert client.get("/book/MP-04/photo-biometrics/2026-02-30/").status_code == 404
    assert client.get(reverse("applicants:book_confirm", args=[999999])).status_code in (302, 404)


def test_a_slot_taken_a_moment_ago_offers_the_next_free_times(applicant_client, slots):
    full = slots[(3, 10, 0)]
    Slot.objects.filter(pk=full.pk).update(booked=full.capacity)
    response = applicant_client.post(reverse("applicants:book_confirm", args=[full.pk]))
    html = response.content.decode()
    assert response.status_code == 409
    assert "Sorry, this time has just filled up. Please choose another time." in html
    assert "Next free times" in html
    for key in ((3, 10, 30), (4, 10, 0), (4, 10, 30)):
        assert reverse("applicants:book_confirm", args=[slots[key].pk]) in html
    assert f'href="{reverse("applicants:book_confirm", args=[full.pk])}"' not in html


def test_the_full_slot_message_speaks_hindi(applicant_client, slots):
    full = slots[(3, 10, 0)]
    Slot.objects.filter(pk=full.pk).update(booked=full.capacity)
    html = applicant_client.post(
        reverse("applicants:book_confirm", args=[full.pk]), HTTP_ACCEPT_LANGUAGE="hi"
    ).content.decode()
    assert "अगले खाली समय" in html


def test_already_booked_links_to_the_existing_booking(applicant_client, applicant, slots):
    existing = BookingFactory(applicant=applicant, slot=slots[(4, 10, 0)])
    response = applicant_client.post(
        reverse("applicants:book_confirm", args=[slots[(3, 10, 0)].pk])
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert "You already have an active booking for this service." in html
    assert reverse("applicants:booking_slip", args=[existing.reference]) in html


def test_a_slot_that_cannot_be_booked_says_why(applicant_client, bhopal_photo):
    soon = SlotFactory(offering=bhopal_photo, starts_at=timezone.now() + timedelta(minutes=30))
    response = applicant_client.post(reverse("applicants:book_confirm", args=[soon.pk]))
    assert response.status_code == 409
    assert "This time has passed or starts too soon to book" in response.content.decode()
    assert not Booking.objects.exists()


def test_times_of_a_day_show_full_slots_as_not_available(client, slots):
    full = slots[(3, 10, 0)]
    Slot.objects.filter(pk=full.pk).update(booked=full.capacity)
    html = client.get(
        reverse("applicants:book_times", args=["MP-04", "photo-biometrics", day_ahead(3)])
    ).content.decode()
    assert reverse("applicants:book_confirm", args=[full.pk]) not in html
    assert "Not available" in html
