"""Register, sign in, sign out: the session, the throttle and the messages."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from applicants.models import Applicant
from applicants.views import (
    APPLICANT_SESSION_KEY,
)
from tests.factories import ApplicantFactory

pytestmark = pytest.mark.django_db

WRONG_PAIR = "The application number and date of birth do not match our records"


def _register_data(**overrides):
    data = {
        "full_name": "  Ramesh   Kumar ",
        "date_of_birth": "1995-06-15",
        "mobile": "98260 12345",
        "email": "Ramesh@Example.in",
        "preferred_language": "hi",
        "learner_licence_issued_on": "",
    }
    data.update(overrides)
    return data


def test_register_page_labels_every_input(client):
    html = client.get(reverse("applicants:register")).content.decode()
    for name in ("full_name", "date_of_birth", "mobile", "email", "learner_licence_issued_on"):
        assert f'for="id_{name}"' in html
        assert f'id="id_{name}"' in html
    assert "<legend>" in html  # the language radios sit in a fieldset with a legend
    assert 'type="date"' in html and 'type="tel"' in html
    assert "csrfmiddlewaretoken" in html


def test_register_shows_the_application_number_and_signs_in(client):
    response = client.post(reverse("applicants:register"), _register_data(), follow=True)
    applicant = Applicant.objects.get()
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("applicants:welcome")
    assert f'id="application-number">{applicant.application_number}<' in html
    assert applicant.full_name == "Ramesh Kumar"
    assert applicant.mobile == "+919826012345"
    assert applicant.email == "ramesh@example.in"
    assert applicant.preferred_language == "hi"
    assert client.session[APPLICANT_SESSION_KEY] == applicant.pk
    assert "Sign out" in html and "My bookings" in html


def test_register_with_a_bad_mobile_shows_the_error_beside_the_field(client):
    response = client.post(reverse("applicants:register"), _register_data(mobile="12345"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Enter a 10-digit Indian mobile number starting with 6, 7, 8 or 9." in html
    assert 'id="id_mobile_error"' in html and 'aria-invalid="true"' in html
    assert not Applicant.objects.exists()
    assert APPLICANT_SESSION_KEY not in client.session


def test_register_too_young_is_refused(client):
    today = timezone.localdate()
    born = date(today.year - 10, 1, 1)
    response = client.post(
        reverse("applicants:register"), _register_data(date_of_birth=born.isoformat())
    )
    assert response.status_code == 200
    assert "You must be at least 16 years old to apply for a licence." in response.content.decode()
    assert not Applicant.objects.exists()


def test_register_accepts_a_typed_day_month_year(client):
    client.post(reverse("applicants:register"), _register_data(date_of_birth="15-06-1995"))
    assert Applicant.objects.get().date_of_birth == date(1995, 6, 15)


def test_register_with_empty_fields_marks_each_required_one(client):
    html = client.post(reverse("applicants:register"), {}).content.decode()
    assert html.count("This field is required.") >= 3
    assert "Please correct the marked fields." in html


def test_sign_in_with_the_right_pair_rotates_the_session(client, applicant):
    session = client.session
    session["seen_home"] = True
    session.save()
    before = client.session.session_key
    response = client.post(
        reverse("applicants:signin"),
        {"application_number": applicant.application_number, "date_of_birth": "1995-06-15"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("applicants:my_bookings")
    assert client.session[APPLICANT_SESSION_KEY] == applicant.pk
    assert client.session.session_key != before


def test_sign_in_returns_to_a_safe_next_page_only(client, applicant):
    data = {"application_number": applicant.application_number, "date_of_birth": "1995-06-15"}
    nxt = reverse("applicants:book_offices")
    response = client.post(f"{reverse('applicants:signin')}?next={nxt}", data)
    assert response["Location"] == nxt
    response = client.post(reverse("applicants:signin"), {**data, "next": "https://evil.example/"})
    assert response["Location"] == reverse("applicants:my_bookings")


def test_wrong_number_and_wrong_birth_date_get_the_same_message(client, applicant):
    wrong_number = client.post(
        reverse("applicants:signin"),
        {"application_number": "2699999999", "date_of_birth": "1995-06-15"},
    ).content.decode()
    wrong_birth = client.post(
        reverse("applicants:signin"),
        {"application_number": applicant.application_number, "date_of_birth": "1995-06-16"},
    ).content.decode()
    assert WRONG_PAIR in wrong_number and WRONG_PAIR in wrong_birth
    assert APPLICANT_SESSION_KEY not in client.session


def test_sign_in_is_throttled_per_application_number(client, applicant, settings):
    url = reverse("applicants:signin")
    for _ in range(settings.SIGNIN_LOCKOUT_STEPS[0][0]):
        response = client.post(
            url, {"application_number": applicant.application_number, "date_of_birth": "2000-01-01"}
        )
        assert response.status_code == 200
    # Now even the right pair waits: guessing must not pay off.
    response = client.post(
        url, {"application_number": applicant.application_number, "date_of_birth": "1995-06-15"}
    )
    assert response.status_code == 429
    assert "Too many unsuccessful attempts" in response.content.decode()
    assert APPLICANT_SESSION_KEY not in client.session
    # Another number from the same address is still fine.
    other = ApplicantFactory()
    response = client.post(
        url, {"application_number": other.application_number, "date_of_birth": "1995-06-15"}
    )
    assert response.status_code == 302


def test_sign_in_is_throttled_per_client_address(client, applicant, settings):
    url = reverse("applicants:signin")
    for n in range(settings.SIGNIN_FAILURES_PER_ADDRESS):
        client.post(url, {"application_number": f"2600000{n:03d}", "date_of_birth": "2000-01-01"})
    response = client.post(
        url, {"application_number": applicant.application_number, "date_of_birth": "1995-06-15"}
    )
    assert response.status_code == 429
    # Another address is not affected.
    response = Client(REMOTE_ADDR="10.1.2.3").post(
        url, {"application_number": applicant.application_number, "date_of_birth": "1995-06-15"}
    )
    assert response.status_code == 302


def test_throttle_message_speaks_hindi(client, applicant, settings):
    url = reverse("applicants:signin")
    data = {"application_number": applicant.application_number, "date_of_birth": "2000-01-01"}
    for _ in range(settings.SIGNIN_LOCKOUT_STEPS[0][0] + 1):
        response = client.post(url, data, HTTP_ACCEPT_LANGUAGE="hi")
    html = response.content.decode()
    assert response.status_code == 429
    assert "बहुत" in html and re.search(r"कृपया \d+ मिनट रुककर", html)


def test_sign_out_is_a_post_and_ends_the_session(applicant_client):
    assert applicant_client.get(reverse("applicants:signout")).status_code == 405
    response = applicant_client.post(reverse("applicants:signout"), follow=True)
    assert APPLICANT_SESSION_KEY not in applicant_client.session
    assert "You have signed out." in response.content.decode()
    response = applicant_client.get(reverse("applicants:my_bookings"))
    assert response.status_code == 302


def test_pages_of_the_applicant_need_a_sign_in(client):
    url = reverse("applicants:my_bookings")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('applicants:signin')}?next={url}"


def test_a_session_of_a_deleted_applicant_is_treated_as_signed_out(client):
    session = client.session
    session[APPLICANT_SESSION_KEY] = 987654
    session.save()
    assert client.get(reverse("applicants:my_bookings")).status_code == 302


def test_forms_refuse_a_post_without_the_csrf_token(applicant):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("applicants:signin"),
        {"application_number": applicant.application_number, "date_of_birth": "1995-06-15"},
    )
    assert response.status_code == 403
