"""The pages ask for the one-time code after registering and before the first booking, in
Hindi and English, with plain forms (no JavaScript needed)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from applicants.models import Applicant
from slots.models import Booking
from tests.applicants.conftest import sign_in
from tests.factories import ApplicantFactory
from tests.sms_outbox import code_sent_to, codes_sent_to, wrong_code

pytestmark = pytest.mark.django_db
MOBILE = "+919826012345"
VERIFY = reverse("applicants:verify_mobile")


def _register(client, capture, language="en"):
    client.cookies.load({"django_language": language})
    with capture(execute=True):
        response = client.post(
            reverse("applicants:register"),
            {
                "full_name": "Sunita Verma",
                "date_of_birth": "1995-06-15",
                "mobile": "98260 12345",
                "email": "",
                "preferred_language": language,
            },
            follow=True,
        )
    return response, Applicant.objects.get()


@pytest.mark.parametrize(
    ("language", "asked", "verified"),
    [
        ("en", "Enter the code we sent to", "Your mobile number is verified."),
        ("hi", "हमने", "आपका मोबाइल नंबर सत्यापित हो गया है।"),
    ],
)
def test_after_registering_the_welcome_page_asks_for_the_code(
    client, django_capture_on_commit_callbacks, language, asked, verified
):
    response, applicant = _register(client, django_capture_on_commit_callbacks, language)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("applicants:welcome")
    assert applicant.application_number in html  # the number still comes first
    assert asked in html and "+91 98xxxxxx45" in html
    assert 'autocomplete="one-time-code"' in html and 'inputmode="numeric"' in html
    assert 'name="action" value="resend"' in html

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            VERIFY,
            {"code": code_sent_to(MOBILE), "next": reverse("applicants:book_offices")},
            follow=True,
        )

    assert done.redirect_chain[-1][0] == reverse("applicants:book_offices")
    assert verified in done.content.decode()
    applicant.refresh_from_db()
    assert applicant.mobile_verified


def test_a_wrong_code_shows_the_error_beside_the_field(client, django_capture_on_commit_callbacks):
    _response, applicant = _register(client, django_capture_on_commit_callbacks)
    response = client.post(VERIFY, {"code": wrong_code(code_sent_to(MOBILE))})
    html = response.content.decode()
    assert response.status_code == 400
    assert "That code is not right." in html and 'aria-invalid="true"' in html
    assert client.post(VERIFY, {"code": "12ab"}).status_code == 400
    applicant.refresh_from_db()
    assert not applicant.mobile_verified


def test_the_confirm_step_sends_an_unverified_applicant_to_the_code_and_back(
    client, slots, django_capture_on_commit_callbacks
):
    applicant = ApplicantFactory(mobile=MOBILE, mobile_verified_at=None)
    sign_in(client, applicant)
    slot = slots[(3, 10, 0)]
    confirm = reverse("applicants:book_confirm", args=[slot.pk])

    asked = client.get(confirm)
    posted = client.post(confirm)

    for response in (asked, posted):
        assert response.status_code == 302
        assert response["Location"].startswith(VERIFY) and "next=" in response["Location"]
    assert not Booking.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(VERIFY, {"action": "resend", "next": confirm})
    back = client.post(VERIFY, {"code": code_sent_to(MOBILE), "next": confirm})
    assert (back.status_code, back["Location"]) == (302, confirm)
    with django_capture_on_commit_callbacks(execute=True):
        booked = client.post(confirm)
    assert booked.status_code == 302 and Booking.objects.filter(applicant=applicant).exists()


def test_resend_sends_a_new_code_until_the_hourly_limit(
    client, settings, django_capture_on_commit_callbacks
):
    settings.MOBILE_CODE_RESENDS_PER_HOUR = 2
    applicant = ApplicantFactory(mobile=MOBILE, mobile_verified_at=None)
    sign_in(client, applicant)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            sent = client.post(VERIFY, {"action": "resend"}, follow=True)
        assert "We have sent a new code." in sent.content.decode()
    refused = client.post(VERIFY, {"action": "resend"})
    assert refused.status_code == 429
    assert "You have asked for many codes." in refused.content.decode()
    assert len(codes_sent_to(MOBILE)) == 2


def test_a_fifth_applicant_of_a_shared_mobile_is_told_why(
    client, settings, django_capture_on_commit_callbacks
):
    settings.APPLICANTS_PER_MOBILE = 4
    for _ in range(4):
        ApplicantFactory(mobile=MOBILE)
    fifth = ApplicantFactory(mobile=MOBILE, mobile_verified_at=None)
    sign_in(client, fifth)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(VERIFY, {"action": "resend"})

    response = client.post(VERIFY, {"code": code_sent_to(MOBILE)})

    assert response.status_code == 409
    assert "already verified for the most applicants" in response.content.decode()


def test_a_verified_applicant_is_sent_on(applicant_client):
    response = applicant_client.get(VERIFY)
    assert (response.status_code, response["Location"]) == (302, reverse("applicants:book_offices"))


def test_with_verification_off_the_welcome_page_offers_booking(
    client, settings, django_capture_on_commit_callbacks
):
    settings.MOBILE_VERIFICATION = "off"
    response, _applicant = _register(client, django_capture_on_commit_callbacks)
    html = response.content.decode()
    assert 'name="code"' not in html
    assert reverse("applicants:book_offices") in html
    assert codes_sent_to(MOBILE) == []


def test_an_applicant_without_a_code_is_offered_one(client, django_capture_on_commit_callbacks):
    # Registered before verification began (or the code expired): nothing to enter yet.
    applicant = ApplicantFactory(mobile=MOBILE, mobile_verified_at=None)
    sign_in(client, applicant)
    html = client.get(VERIFY).content.decode()
    assert "Ask for a code by SMS below" in html and "Send me a code" in html

    with django_capture_on_commit_callbacks(execute=True):
        client.post(VERIFY, {"action": "resend"})
    html = client.get(VERIFY).content.decode()
    assert "Enter the code we sent to" in html and "Send a new code" in html
    assert len(codes_sent_to(MOBILE)) == 1
