"""POST /api/v1/applicants/recover/: "forgot application number" — 202 and one body whatever
the match, 400 on bad input, throttled per mobile and per client address."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.api.conftest import assert_error
from tests.factories import ApplicantFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/applicants/recover/"


@pytest.fixture
def registered(db):
    return ApplicantFactory(
        mobile="+919826012345", date_of_birth=date(1995, 6, 15), mobile_verified_at=timezone.now()
    )


def test_a_match_and_a_non_match_get_the_same_202(api, registered):
    match = api.post(URL, {"mobile": "98260 12345", "date_of_birth": "1995-06-15"})
    other = api.post(URL, {"mobile": "98260 99999", "date_of_birth": "1995-06-15"})
    assert match.status_code == other.status_code == 202
    assert match.json() == other.json()
    assert set(match.json()) == {"detail"}
    assert registered.application_number not in match.content.decode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mobile": "12345", "date_of_birth": "1995-06-15"}, "mobile"),
        ({"mobile": "9826012345", "date_of_birth": "15 June"}, "date_of_birth"),
        ({"mobile": "9826012345"}, "date_of_birth"),
        ({"date_of_birth": "1995-06-15"}, "mobile"),
    ],
)
def test_bad_input_answers_400_with_the_error_shape(api, body, field):
    body = assert_error(api.post(URL, body, format="json"), 400, "invalid")
    assert field in body["fields"]


def test_a_list_body_answers_400(api):
    assert_error(api.post(URL, [1, 2], format="json"), 400, "invalid")


def test_requests_for_one_mobile_are_throttled_match_or_not(api, registered, settings):
    settings.RATE_LIMITS = "on"
    settings.RECOVER_PER_MOBILE = 2
    body = {"mobile": "9826012345", "date_of_birth": "2001-01-01"}  # not a match
    for _ in range(2):
        assert api.post(URL, body).status_code == 202
    response = api.post(URL, {**body, "date_of_birth": "1995-06-15"})
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) >= 1
    # Another mobile from another address is not affected.
    other = APIClient(REMOTE_ADDR="10.7.7.7")
    assert other.post(URL, {**body, "mobile": "9826054321"}).status_code == 202


def test_requests_from_one_address_are_throttled_across_mobiles(api, settings):
    settings.RATE_LIMITS = "on"
    settings.RECOVER_PER_ADDRESS = 3
    for n in range(3):
        body = {"mobile": f"98260{n:05d}", "date_of_birth": "1995-06-15"}
        assert api.post(URL, body).status_code == 202
    body = {"mobile": "9826099999", "date_of_birth": "1995-06-15"}
    assert_error(api.post(URL, body), 429, "throttled")
    assert APIClient(REMOTE_ADDR="10.7.7.7").post(URL, body).status_code == 202


def test_rate_limits_off_disables_the_recovery_throttle(api, settings):
    settings.RATE_LIMITS = "off"
    settings.RECOVER_PER_MOBILE = 1
    body = {"mobile": "9826012345", "date_of_birth": "1995-06-15"}
    for _ in range(3):
        assert api.post(URL, body).status_code == 202


def _number_sms():
    from notifications.models import Notification

    return Notification.objects.filter(kind=Notification.Kind.APPLICATION_NUMBER)


def test_a_match_queues_its_application_number_by_sms(api, registered):
    api.post(URL, {"mobile": "+91 98260 12345", "date_of_birth": "1995-06-15"})
    (row,) = _number_sms()
    assert row.applicant == registered and row.booking is None
    assert row.channel == "sms" and row.recipient == "+919826012345"
    assert row.context["application_number"] == registered.application_number


@pytest.mark.parametrize(
    "body",
    [
        {"mobile": "9826099999", "date_of_birth": "1995-06-15"},  # another mobile
        {"mobile": "9826012345", "date_of_birth": "1995-06-16"},  # another date of birth
    ],
)
def test_a_non_match_queues_nothing(api, registered, body):
    assert api.post(URL, body).status_code == 202
    assert not _number_sms().exists()


def test_an_unverified_mobile_is_sent_nothing(api, settings):
    settings.MOBILE_VERIFICATION = "on"
    ApplicantFactory(
        mobile="+919826012345", date_of_birth=date(1995, 6, 15), mobile_verified_at=None
    )
    assert api.post(URL, {"mobile": "9826012345", "date_of_birth": "1995-06-15"}).status_code == 202
    assert not _number_sms().exists()


def test_with_mobile_verification_off_every_applicant_counts_as_verified(api, settings):
    settings.MOBILE_VERIFICATION = "off"
    ApplicantFactory(
        mobile="+919826012345", date_of_birth=date(1995, 6, 15), mobile_verified_at=None
    )
    api.post(URL, {"mobile": "9826012345", "date_of_birth": "1995-06-15"})
    assert _number_sms().count() == 1


def test_several_applicants_of_one_mobile_get_one_sms_each(api, registered):
    sibling = ApplicantFactory(
        mobile="+919826012345", date_of_birth=date(1995, 6, 15), mobile_verified_at=timezone.now()
    )
    api.post(URL, {"mobile": "9826012345", "date_of_birth": "1995-06-15"})
    assert {row.context["application_number"] for row in _number_sms()} == {
        registered.application_number,
        sibling.application_number,
    }


def test_the_sms_is_sent_by_the_dispatcher_in_the_applicants_language(settings, registered):
    import json
    from pathlib import Path

    from notifications.dispatcher import notifications_dispatch

    registered.preferred_language = "hi"
    registered.save()
    APIClient().post(URL, {"mobile": "9826012345", "date_of_birth": "1995-06-15"})
    notifications_dispatch()
    (sent,) = [json.loads(p.read_text()) for p in Path(settings.SMS_FILE_DIR).glob("*.json")]
    assert registered.application_number in json.dumps(sent, ensure_ascii=False)
    assert "आवेदन क्रमांक" in json.dumps(sent, ensure_ascii=False)
