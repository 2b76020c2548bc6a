from datetime import date

import pytest
from django.utils import timezone

from applicants.models import Applicant
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db

URL = "/api/v1/applicants/"


def payload(**overrides):
    return {
        "full_name": "  Ramesh   Kumar ",
        "date_of_birth": "1995-06-15",
        "mobile": "98260 12345",
        "email": "Ramesh@Example.in",
        "preferred_language": "hi",
        **overrides,
    }


def test_register_answers_201_with_application_number(api):
    response = api.post(URL, payload())
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "application_number",
        "full_name",
        "date_of_birth",
        "mobile",
        "email",
        "preferred_language",
        "learner_licence_issued_on",
        "mobile_verified",
    }
    assert body["learner_licence_issued_on"] is None
    assert body["mobile_verified"] is False  # the code sent by SMS is still to be entered
    assert body["mobile"] == "+919826012345"
    assert body["full_name"] == "Ramesh Kumar"
    assert body["email"] == "ramesh@example.in"
    assert body["date_of_birth"] == "1995-06-15"
    assert Applicant.objects.get(application_number=body["application_number"])


def test_email_is_optional_and_language_defaults_to_english(api):
    data = payload()
    del data["email"], data["preferred_language"]
    body = api.post(URL, data).json()
    assert body["email"] == "" and body["preferred_language"] == "en"


def test_registered_applicant_can_sign_in(api):
    number = api.post(URL, payload()).json()["application_number"]
    response = api.post(
        "/api/v1/auth/applicant/", {"application_number": number, "date_of_birth": "1995-06-15"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"mobile": "12345"}, "mobile"),
        ({"mobile": "+1 202 555 0100"}, "mobile"),
        ({"date_of_birth": "not-a-date"}, "date_of_birth"),
        ({"full_name": ""}, "full_name"),
        ({"email": "nope"}, "email"),
        ({"preferred_language": "fr"}, "preferred_language"),
    ],
)
def test_bad_input_answers_400_with_fields(api, overrides, field):
    body = assert_error(api.post(URL, payload(**overrides)), 400, "invalid")
    assert field in body["fields"]


def test_under_sixteen_answers_400_on_date_of_birth(api):
    today = timezone.localdate()
    young = date(today.year - 15, 1, 1).isoformat()
    body = assert_error(api.post(URL, payload(date_of_birth=young)), 400, "invalid")
    assert "16" in body["fields"]["date_of_birth"][0]


def test_future_birth_date_answers_400(api):
    assert_error(api.post(URL, payload(date_of_birth="2999-01-01")), 400, "invalid")


def test_registering_the_same_person_again_answers_409_already_registered(api):
    first = api.post(URL, payload())
    assert first.status_code == 201
    again = api.post(URL, payload(full_name="ramesh KUMAR", mobile="+919826012345"))
    assert_error(again, 409, "already_registered")
    detail = again.json()["detail"]
    assert "Forgot application number" in detail and "/api/v1/applicants/recover/" in detail
    assert first.json()["application_number"] not in again.content.decode()
    assert Applicant.objects.count() == 1
