"""Bad input on the applicant pages answers a friendly 4xx page, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.applicants.conftest import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def quiet(client):
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/book/MP-04%00/",
        "/book/MP-04/photo-biometrics%00/",
        "/my/bookings/%00/",
        "/my/bookings/%00/calendar.ics",
        "/my/bookings/%00/reschedule/",
        "/my/bookings/%00/cancel/",
        "/book/?next=%00",
    ],
)
def test_nul_byte_in_a_page_url_answers_the_400_page(applicant, bhopal_photo, url):
    client = sign_in(Client(raise_request_exception=False), applicant)
    response = client.get(url)
    assert response.status_code == 400
    assert "This request could not be understood" in response.content.decode()


def test_the_400_page_speaks_hindi(quiet):
    quiet.cookies["django_language"] = "hi"
    response = quiet.get("/book/MP-04%00/", HTTP_ACCEPT_LANGUAGE="hi")
    assert response.status_code == 400
    assert "यह अनुरोध समझा नहीं जा सका" in response.content.decode()


def test_email_over_254_characters_is_a_form_error(quiet):
    response = quiet.post(
        "/register/",
        {
            "full_name": "Asha Verma",
            "date_of_birth": "2000-01-01",
            "mobile": "9826012345",
            "email": "a" * 250 + "@example.com",
            "preferred_language": "en",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["email"]


def test_learner_licence_of_year_9999_is_a_form_error(applicant):
    client = sign_in(Client(raise_request_exception=False), applicant)
    response = client.post("/my/details/", {"learner_licence_issued_on": "9999-12-31"})
    assert response.status_code == 400


def test_reschedule_page_refuses_a_slot_of_another_office(applicant, bhopal_slot, indore_photo):
    from slots.services.bookings import booking_create
    from tests.conftest import in_days
    from tests.factories import SlotFactory

    indore_slot = SlotFactory(offering=indore_photo, starts_at=in_days(3), capacity=2)

    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    client = sign_in(Client(), applicant)
    url = f"/my/bookings/{booking.reference}/reschedule/slot/{indore_slot.pk}/"
    response = client.post(url)
    assert response.status_code == 409
    assert "same office, for the same service" in response.content.decode()
    booking.refresh_from_db()
    assert booking.slot_id == bhopal_slot.pk
    response = client.post(url, HTTP_ACCEPT_LANGUAGE="hi")
    assert "उसी कार्यालय में" in response.content.decode()
