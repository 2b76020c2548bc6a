from datetime import timedelta

import pytest
from django.core import signing
from rest_framework.test import APIClient

from applicants.models import ApplicantToken
from applicants.tokens import applicant_token_issue
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/applicant/"


def sign_in(client, number, dob="1995-06-15", **extra):
    return client.post(URL, {"application_number": number, "date_of_birth": dob}, **extra)


def test_sign_in_returns_a_token_that_authenticates(api, applicant, settings):
    settings.APPLICANT_TOKEN_HOURS = 12
    response = sign_in(api, applicant.application_number)
    assert response.status_code == 200
    body = response.json()
    assert body["expires_at"].endswith("+05:30")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert client.get("/api/v1/bookings/").status_code == 200


@pytest.mark.parametrize("number_exists", [True, False])
def test_wrong_pair_answers_401_invalid_credentials_either_way(api, applicant, number_exists):
    number = applicant.application_number if number_exists else "2699999999"
    body = assert_error(sign_in(api, number, dob="1990-01-01"), 401, "invalid_credentials")
    assert body["detail"] == "The application number and date of birth do not match."


def test_malformed_sign_in_answers_400(api, applicant):
    assert_error(sign_in(api, applicant.application_number, dob="15/06/1995"), 400, "invalid")


def test_missing_token_answers_401_not_authenticated(api):
    response = api.get("/api/v1/bookings/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer a b", "Token nope", "Bearer 1:2:3"])
def test_bad_tokens_answer_401(api, header):
    api.credentials(HTTP_AUTHORIZATION=header)
    assert_error(api.get("/api/v1/bookings/"), 401, "not_authenticated")


def test_expired_token_answers_401(api, applicant, settings):
    token = applicant_token_issue(applicant=applicant).token
    settings.APPLICANT_TOKEN_HOURS = -1  # every token issued so far is past its lifetime
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_error(api.get("/api/v1/bookings/"), 401, "not_authenticated")


def test_a_signed_id_is_no_token(api, applicant):
    """The old form (the id, signed) or any value made from the id is refused."""
    forged = signing.TimestampSigner(salt="applicants.tokens.api").sign(str(applicant.pk))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert_error(api.get("/api/v1/bookings/"), 401, "not_authenticated")


def test_token_carries_no_sequential_id(applicant):
    tokens = {applicant_token_issue(applicant=applicant).token for _ in range(3)}
    assert len(tokens) == 3
    for token in tokens:
        assert len(token) >= 40
        assert not token.startswith(str(applicant.pk))
        assert ApplicantToken.objects.filter(key_hash=token).count() == 0  # only a hash stored


def test_logout_stops_the_applicant_token_at_once(api, applicant):
    token = sign_in(api, applicant.application_number).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/bookings/").status_code == 200
    response = client.post("/api/v1/auth/logout/")
    assert response.status_code == 204 and response.content == b""
    assert_error(client.get("/api/v1/bookings/"), 401, "not_authenticated")
    assert_error(client.post("/api/v1/auth/logout/"), 401, "not_authenticated")


def test_logout_leaves_other_sign_ins_alone(api, applicant):
    first = sign_in(api, applicant.application_number).json()["token"]
    second = sign_in(api, applicant.application_number).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {first}")
    assert client.post("/api/v1/auth/logout/").status_code == 204
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {second}")
    assert client.get("/api/v1/bookings/").status_code == 200


def test_logout_stops_the_staff_token_at_once(bhopal_api):
    assert bhopal_api.post("/api/v1/auth/logout/").status_code == 204
    assert_error(bhopal_api.get("/api/v1/bookings/"), 401, "not_authenticated")


def test_logout_without_a_token_answers_401(api):
    assert_error(api.post("/api/v1/auth/logout/"), 401, "not_authenticated")


def test_staff_token_expires(bhopal_api, clerk_bhopal, settings):
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    settings.STAFF_TOKEN_HOURS = 24
    assert bhopal_api.get("/api/v1/bookings/").status_code == 200
    Token.objects.filter(user=clerk_bhopal).update(
        created=timezone.now() - timedelta(hours=24, minutes=1)
    )
    assert_error(bhopal_api.get("/api/v1/bookings/"), 401, "not_authenticated")


def test_escalating_lockout_per_number(api, applicant, settings):
    settings.RATE_LIMITS = "on"
    settings.SIGNIN_LOCKOUT_STEPS = [(2, 60), (4, 3600)]
    from django.core.cache import cache

    for _ in range(2):
        assert sign_in(api, applicant.application_number, dob="1990-01-01").status_code == 401
    response = sign_in(api, applicant.application_number)
    assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60
    for _ in range(2):  # the first lock over, two more failures reach the next step
        cache.delete_pattern("*signin:number:*:until*")
        assert sign_in(api, applicant.application_number, dob="1990-01-01").status_code == 401
    response = sign_in(api, applicant.application_number)
    assert 60 < int(response["Retry-After"]) <= 3600


def test_many_people_behind_one_address_are_not_locked_out(api, applicant, settings):
    """A kiosk: others' failures on their own numbers do not lock this applicant out."""
    settings.RATE_LIMITS = "on"
    settings.SIGNIN_LOCKOUT_STEPS = [(3, 900)]
    for n in range(10):
        for _ in range(2):
            assert sign_in(api, f"26000000{n:02d}", dob="1990-01-01").status_code == 401
    assert sign_in(api, applicant.application_number).status_code == 200


def test_token_lifetime_comes_from_settings(applicant, settings):
    settings.APPLICANT_TOKEN_HOURS = 3
    issued = applicant_token_issue(applicant=applicant)
    from django.utils import timezone

    remaining = issued.expires_at - timezone.now()
    assert timedelta(hours=2, minutes=59) < remaining <= timedelta(hours=3)


def test_brute_force_on_one_number_gets_429(api, applicant, settings):
    settings.RATE_LIMITS = "on"
    settings.SIGNIN_LOCKOUT_STEPS = [(5, 900)]
    for _ in range(5):
        assert sign_in(api, applicant.application_number, dob="1990-01-01").status_code == 401
    response = sign_in(api, applicant.application_number)  # even the right date now waits
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) >= 1


def test_brute_force_from_one_address_gets_429(api, settings):
    settings.RATE_LIMITS = "on"
    settings.SIGNIN_FAILURES_PER_ADDRESS = 3
    for n in range(3):
        assert sign_in(api, f"26000000{n:02d}").status_code == 401
    assert_error(sign_in(api, "2600000099"), 429, "throttled")
    # Another address is not affected.
    assert sign_in(api, "2600000099", REMOTE_ADDR="10.1.2.3").status_code == 401


def test_successful_sign_ins_are_not_counted(api, applicant, settings):
    settings.SIGNIN_LOCKOUT_STEPS = [(2, 900)]
    for _ in range(5):
        assert sign_in(api, applicant.application_number).status_code == 200


def test_rate_limits_off_disables_sign_in_throttle(api, applicant, settings):
    settings.RATE_LIMITS = "off"
    settings.SIGNIN_LOCKOUT_STEPS = [(1, 900)]
    for _ in range(4):
        assert sign_in(api, applicant.application_number, dob="1990-01-01").status_code == 401


def test_general_anonymous_rate_answers_429(api, bhopal, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "anon": "3/min"}
    for _ in range(3):
        assert api.get("/api/v1/offices/").status_code == 200
    response = api.get("/api/v1/offices/")
    assert_error(response, 429, "throttled")
    assert "Retry-After" in response


def test_general_user_rate_answers_429(applicant_api, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "user": "2/min"}
    for _ in range(2):
        assert applicant_api.get("/api/v1/bookings/").status_code == 200
    assert_error(applicant_api.get("/api/v1/bookings/"), 429, "throttled")


def test_staff_token_authenticates(bhopal_api):
    assert bhopal_api.get("/api/v1/bookings/").status_code == 200


def test_non_staff_user_token_is_refused(db):
    from rest_framework.authtoken.models import Token

    from tests.factories import UserFactory

    user = UserFactory(username="someone", is_staff=False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert_error(client.get("/api/v1/bookings/"), 401, "not_authenticated")


def test_page_and_api_share_one_count_of_failures(api, client, applicant, settings):
    """One policy: failures on the sign-in page count against the API, and back."""
    settings.RATE_LIMITS = "on"
    settings.SIGNIN_LOCKOUT_STEPS = [(3, 900)]
    wrong = {"application_number": applicant.application_number, "date_of_birth": "1990-01-01"}
    for _ in range(2):
        assert client.post("/signin/", wrong).status_code == 200
    assert sign_in(api, applicant.application_number, dob="1990-01-01").status_code == 401
    assert_error(sign_in(api, applicant.application_number), 429, "throttled")
    assert client.post("/signin/", wrong).status_code == 429


def test_expired_tokens_are_removed_at_the_next_sign_in(applicant, settings):
    from django.utils import timezone

    old = applicant_token_issue(applicant=applicant)
    ApplicantToken.objects.update(created_at=timezone.now() - timedelta(hours=13))
    settings.APPLICANT_TOKEN_HOURS = 12
    applicant_token_issue(applicant=applicant)
    assert ApplicantToken.objects.filter(applicant=applicant).count() == 1
    assert old.token  # the old one is gone with its row
