"""Registration and booking through the pages are throttled per client exactly as on the API:
the same rates (THROTTLE_RATES), the same client address, the same switch (RATE_LIMITS)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from applicants.models import Applicant
from tests.applicants.conftest import sign_in
from tests.factories import ApplicantFactory

pytestmark = pytest.mark.django_db

REGISTER = "/register/"


@pytest.fixture(autouse=True)
def _limits_on(settings):
    settings.RATE_LIMITS = "on"


def _registration(n: int) -> dict:
    return {
        "full_name": f"Applicant Number {n}",
        "date_of_birth": "1995-06-15",
        "mobile": f"98260{n:05d}",
        "preferred_language": "en",
    }


def _anon_rate(settings, rate: str) -> None:
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "anon": rate}


def test_registrations_over_the_anonymous_rate_answer_429_with_retry_after(settings):
    _anon_rate(settings, "3/min")
    visitor = Client(REMOTE_ADDR="10.0.0.1")
    for n in range(3):
        assert visitor.post(REGISTER, _registration(n)).status_code == 302
    response = visitor.post(REGISTER, _registration(3))
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    html = response.content.decode()
    assert 'id="too-many-requests"' in html and "Please try again in" in html
    assert Applicant.objects.count() == 3


def test_another_client_address_may_still_register(settings):
    _anon_rate(settings, "2/min")
    crowded = Client(REMOTE_ADDR="10.0.0.1")
    for n in range(3):
        crowded.post(REGISTER, _registration(n))
    assert crowded.post(REGISTER, _registration(3)).status_code == 429
    assert Client(REMOTE_ADDR="10.0.0.2").post(REGISTER, _registration(4)).status_code == 302


def test_the_register_form_itself_is_not_counted(settings):
    _anon_rate(settings, "1/min")
    visitor = Client(REMOTE_ADDR="10.0.0.1")
    for _ in range(3):
        assert visitor.get(REGISTER).status_code == 200
    assert visitor.post(REGISTER, _registration(0)).status_code == 302


def test_the_throttled_page_speaks_hindi(settings):
    _anon_rate(settings, "1/min")
    visitor = Client(REMOTE_ADDR="10.0.0.1", HTTP_ACCEPT_LANGUAGE="hi")
    visitor.post(REGISTER, _registration(0))
    response = visitor.post(REGISTER, _registration(1))
    assert response.status_code == 429
    html = response.content.decode()
    assert "कृपया" in html and "बाद फिर से कोशिश करें" in html


def test_page_and_api_registrations_spend_one_budget(settings):
    _anon_rate(settings, "2/min")
    visitor = Client(REMOTE_ADDR="10.0.0.1")
    api = APIClient(REMOTE_ADDR="10.0.0.1")
    assert visitor.post(REGISTER, _registration(0)).status_code == 302
    assert api.post("/api/v1/applicants/", _registration(1), format="json").status_code == 201
    assert visitor.post(REGISTER, _registration(2)).status_code == 429


def test_rate_limits_off_lets_every_registration_through(settings):
    _anon_rate(settings, "1/min")
    settings.RATE_LIMITS = "off"
    visitor = Client(REMOTE_ADDR="10.0.0.1")
    for n in range(3):
        assert visitor.post(REGISTER, _registration(n)).status_code == 302


def test_forwarded_for_counts_only_behind_the_configured_proxies(settings):
    _anon_rate(settings, "1/min")
    # No proxy configured: a forged X-Forwarded-For changes nothing, the address is REMOTE_ADDR.
    forger = Client(REMOTE_ADDR="10.0.0.1")
    response = forger.post(REGISTER, _registration(0), HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert response.status_code == 302
    response = forger.post(REGISTER, _registration(1), HTTP_X_FORWARDED_FOR="2.2.2.2")
    assert response.status_code == 429
    # Behind one proxy (API_NUM_PROXIES=1) the client is the address the proxy appended.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = Client(REMOTE_ADDR="10.9.9.9")
    for n, forwarded in ((2, "3.3.3.3"), (3, "4.4.4.4")):
        response = proxy.post(REGISTER, _registration(n), HTTP_X_FORWARDED_FOR=forwarded)
        assert response.status_code == 302
    response = proxy.post(REGISTER, _registration(4), HTTP_X_FORWARDED_FOR="3.3.3.3")
    assert response.status_code == 429


def _user_rate(settings, rate: str) -> None:
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "user": rate}


def test_booking_posts_over_the_applicants_rate_answer_429(applicant, slots, settings):
    _user_rate(settings, "2/min")
    client = sign_in(Client(), applicant)
    url = reverse("applicants:book_confirm", args=[slots[(3, 10, 0)].pk])
    for _ in range(2):
        assert client.post(url).status_code != 429  # booked, then "already booked"
    response = client.post(url)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert 'id="too-many-requests"' in response.content.decode()
    assert applicant.bookings.count() <= 1


def test_another_applicant_may_still_book(applicant, other_applicant, slots, settings):
    _user_rate(settings, "1/min")
    client = sign_in(Client(), applicant)
    url = reverse("applicants:book_confirm", args=[slots[(3, 10, 0)].pk])
    client.post(url)
    assert client.post(url).status_code == 429
    other = sign_in(Client(), other_applicant)
    assert other.post(url).status_code != 429


def test_page_bookings_and_api_requests_spend_one_budget(applicant, slots, settings):
    from applicants.tokens import applicant_token_issue

    _user_rate(settings, "2/min")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {applicant_token_issue(applicant=applicant).token}")
    assert api.get("/api/v1/bookings/").status_code == 200
    client = sign_in(Client(), applicant)
    url = reverse("applicants:book_confirm", args=[slots[(3, 10, 0)].pk])
    assert client.post(url).status_code != 429
    assert client.post(url).status_code == 429


def test_moving_a_booking_is_throttled_too(applicant, slots, settings):
    from slots.services.bookings import booking_create

    booking = booking_create(applicant=applicant, slot_id=slots[(3, 10, 0)].pk)
    _user_rate(settings, "1/min")
    client = sign_in(Client(), applicant)
    url = reverse("applicants:reschedule_confirm", args=[booking.reference, slots[(4, 10, 0)].pk])
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 429


def test_rate_limits_off_lets_every_booking_post_through(slots, settings):
    _user_rate(settings, "1/min")
    settings.RATE_LIMITS = "off"
    client = sign_in(Client(), ApplicantFactory())
    url = reverse("applicants:book_confirm", args=[slots[(3, 10, 0)].pk])
    for _ in range(3):
        assert client.post(url).status_code != 429
