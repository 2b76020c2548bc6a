"""Clerks cannot become applicants: the date of birth (the sign-in secret) is never shown in
the admin; a clerk checks one the applicant tells them, and wrong guesses are limited."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from slots.services.bookings import booking_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def known_applicant(applicant, bhopal_slot):
    booking_create(applicant=applicant, slot_id=bhopal_slot.pk)  # seen by Bhopal's clerks
    return applicant


def _check(client, applicant, day, **extra):
    url = reverse("admin:applicants_applicant_check_date_of_birth", args=[applicant.pk])
    response = client.post(url, {"date_of_birth": day}, follow=True, **extra)
    return [str(m) for m in get_messages(response.wsgi_request)] or [
        str(m) for m in response.context["messages"]
    ]


def test_applicant_page_does_not_show_the_date_of_birth(bhopal_client, known_applicant):
    page = bhopal_client.get(
        reverse("admin:applicants_applicant_change", args=[known_applicant.pk])
    )
    html = page.content.decode()
    assert page.status_code == 200
    born = known_applicant.date_of_birth
    for shown in (born.isoformat(), born.strftime("%d %b %Y"), born.strftime("%b. %d, %Y")):
        assert shown not in html
    assert 'id="applicant-dob-check"' in html


def test_check_answers_match_and_no_match(bhopal_client, known_applicant):
    born = known_applicant.date_of_birth
    assert _check(bhopal_client, known_applicant, born.isoformat()) == [
        "Match: this is the applicant's date of birth."
    ]
    wrong = born.replace(year=born.year - 1).isoformat()
    assert _check(bhopal_client, known_applicant, wrong) == [
        "No match: this is not the date of birth on record."
    ]


def test_check_answers_in_hindi(bhopal_client, known_applicant):
    bhopal_client.cookies["django_language"] = "hi"
    shown = _check(
        bhopal_client,
        known_applicant,
        known_applicant.date_of_birth.isoformat(),
        HTTP_ACCEPT_LANGUAGE="hi",
    )
    assert shown == ["मेल खाती है: यही आवेदक की जन्म तिथि है।"]


def test_wrong_dates_are_limited(bhopal_client, known_applicant, settings):
    settings.ADMIN_DOB_CHECK_FAILURES = 2
    born = known_applicant.date_of_birth
    for years in (1, 2):
        _check(bhopal_client, known_applicant, born.replace(year=born.year - years).isoformat())
    assert _check(bhopal_client, known_applicant, born.isoformat()) == [
        "Too many wrong dates checked for this applicant. Try again later."
    ]


def test_clerk_of_another_office_cannot_check(client, clerk_indore, known_applicant):
    client.force_login(clerk_indore)
    url = reverse("admin:applicants_applicant_check_date_of_birth", args=[known_applicant.pk])
    response = client.post(url, {"date_of_birth": known_applicant.date_of_birth.isoformat()})
    assert response.status_code == 302
    assert "check-date-of-birth" not in response["Location"]
    assert response["Location"] == reverse("admin:index")


def test_the_list_and_the_page_show_whether_the_mobile_is_verified(bhopal_client, known_applicant):
    from tests.factories import ApplicantFactory

    ApplicantFactory(mobile_verified_at=None)  # of no Bhopal booking: not the clerk's to see
    changelist = reverse("admin:applicants_applicant_changelist")

    listing = bhopal_client.get(changelist)
    page = bhopal_client.get(
        reverse("admin:applicants_applicant_change", args=[known_applicant.pk])
    )

    assert "column-mobile_verified" in listing.content.decode()
    assert 'icon-yes.svg" alt="Yes"' in listing.content.decode()
    html = page.content.decode()
    assert "Mobile verified at" in html
    assert 'name="mobile_verified_at"' not in html  # read only: set by the code alone
    assert known_applicant.date_of_birth.isoformat() not in html
    assert bhopal_client.get(changelist, {"mobile_verified": "yes"}).context["cl"].result_count == 1
    assert bhopal_client.get(changelist, {"mobile_verified": "no"}).context["cl"].result_count == 0
