"""A new applicant proves the mobile with the one-time code sent to it before the first
booking (docs/API.md "Accounts", docs/API_NOTES.md "A verified mobile")."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from applicants.models import Applicant, MobileCode
from applicants.services import mobile_code_send, mobile_verify
from applicants.tokens import applicant_token_issue
from notifications.models import Notification
from slots.models import Booking
from tests.factories import ApplicantFactory
from tests.sms_outbox import code_sent_to, codes_sent_to, sms_sent, wrong_code

pytestmark = pytest.mark.django_db
REGISTER = "/api/v1/applicants/"
VERIFY = "/api/v1/applicants/verify-mobile/"
RESEND = "/api/v1/applicants/verify-mobile/resend/"
MOBILE = "+919826012345"


@pytest.fixture
def register(api, django_capture_on_commit_callbacks):
    """Register over the API; the code SMS is sent by the dispatcher after the commit."""

    def run(**overrides):
        body = {
            "full_name": "Kavita Raghuvanshi",
            "date_of_birth": "1999-02-03",
            "mobile": "98260 12345",
            "preferred_language": "en",
            **overrides,
        }
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(REGISTER, body, format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    return run


def bearer(applicant) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {applicant_token_issue(applicant=applicant).token}"
    )
    return client


def verify(api, number, code):
    return api.post(VERIFY, {"application_number": number, "code": code}, format="json")


def test_registering_sends_a_code_and_the_right_code_verifies_the_mobile(api, register):
    body = register()
    assert body["mobile_verified"] is False
    (message,) = sms_sent()
    assert (message["to"], message["kind"]) == (MOBILE, "mobile_code")
    assert "Do not share it" in message["text"]

    response = verify(api, body["application_number"], code_sent_to(MOBILE))

    assert (response.status_code, response.json()) == (200, {"mobile_verified": True})
    applicant = Applicant.objects.get(application_number=body["application_number"])
    assert applicant.mobile_verified_at is not None
    # Verifying again answers the same (a retried request).
    assert verify(api, body["application_number"], "123456").json() == {"mobile_verified": True}


def test_the_code_is_stored_only_as_a_salted_hash(register):
    body = register()
    code = code_sent_to(MOBILE)
    row = MobileCode.objects.get(applicant__application_number=body["application_number"])
    stored = [row.code_hash, row.salt, row.mobile, str(row.pk)]
    assert all(code not in value for value in stored)
    assert len(row.code_hash) == 64
    notification = Notification.objects.get(kind="mobile_code")
    assert code not in str(notification.context) and code not in notification.body
    assert code not in notification.event_key


def test_a_hindi_applicant_gets_the_code_in_hindi(register):
    register(preferred_language="hi")
    (message,) = sms_sent()
    assert message["language"] == "hi" and "कोड" in message["text"]


def test_a_wrong_code_answers_400_on_the_code_field(api, register):
    body = register()
    response = verify(api, body["application_number"], wrong_code(code_sent_to(MOBILE)))

    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "invalid"
    assert "4 more times" in error["fields"]["code"][0]
    assert not Applicant.objects.get(application_number=body["application_number"]).mobile_verified


def test_an_unknown_application_number_answers_like_a_wrong_code(api, register):
    register()
    response = verify(api, "2699999999", "123456")
    assert response.status_code == 400 and "code" in response.json()["fields"]


def test_five_wrong_codes_burn_the_code_until_a_new_one_is_asked_for(api, register):
    body = register()
    number, code = body["application_number"], code_sent_to(MOBILE)
    statuses = [verify(api, number, wrong_code(code)).status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 400, 429]

    locked = verify(api, number, code)  # even the right code: it is burnt
    assert locked.status_code == 429 and locked.json()["code"] == "throttled"
    assert int(locked["Retry-After"]) >= 1
    applicant = Applicant.objects.get(application_number=number)
    assert not applicant.mobile_verified

    mobile_code_send(applicant=applicant)
    assert verify(api, number, mobile_code_send_code()).status_code == 200


def mobile_code_send_code() -> str:
    """The newest code, sent by the dispatcher (outside a request: run it now)."""
    from notifications.dispatcher import notifications_dispatch

    notifications_dispatch()
    return code_sent_to(MOBILE)


def test_an_expired_code_answers_400_and_says_so(api, register, settings):
    body = register()
    MobileCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = verify(api, body["application_number"], code_sent_to(MOBILE))
    assert response.status_code == 400
    assert "expired" in response.json()["fields"]["code"][0]


def test_booking_before_the_code_answers_409_mobile_not_verified(
    api, register, bhopal_slot, django_capture_on_commit_callbacks
):
    body = register()
    applicant = Applicant.objects.get(application_number=body["application_number"])
    client = bearer(applicant)

    refused = client.post("/api/v1/bookings/", {"slot": bhopal_slot.pk}, format="json")
    keyed = client.post(
        "/api/v1/bookings/", {"slot": bhopal_slot.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )

    assert refused.status_code == 409 and refused.json()["code"] == "mobile_not_verified"
    assert keyed.status_code == 409 and keyed.json()["code"] == "mobile_not_verified"
    assert not Booking.objects.exists()
    assert verify(api, body["application_number"], code_sent_to(MOBILE)).status_code == 200
    # The same key books now: the refusal was not remembered under it.
    with django_capture_on_commit_callbacks(execute=True):
        booked = client.post(
            "/api/v1/bookings/",
            {"slot": bhopal_slot.pk},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k1",
        )
    assert booked.status_code == 201


def test_resend_sends_a_new_code_and_the_old_one_stops_working(
    api, register, django_capture_on_commit_callbacks
):
    body = register()
    applicant = Applicant.objects.get(application_number=body["application_number"])
    first = code_sent_to(MOBILE)

    with django_capture_on_commit_callbacks(execute=True):
        response = bearer(applicant).post(RESEND)

    assert response.status_code == 202
    answer = response.json()
    assert answer["mobile_verified"] is False and answer["sent_to"] == "+91 98xxxxxx45"
    assert answer["expires_at"]
    codes = codes_sent_to(MOBILE)
    assert len(codes) == 2 and codes[0] == first
    if codes[1] != first:
        assert verify(api, body["application_number"], first).status_code == 400
    assert verify(api, body["application_number"], codes[1]).status_code == 200
    # Nothing left to verify: nothing is sent.
    again = bearer(applicant).post(RESEND)
    assert (again.status_code, again.json()["mobile_verified"]) == (200, True)


def test_resend_needs_a_signed_in_applicant(api):
    assert api.post(RESEND).status_code == 401


def test_resends_are_limited_per_applicant_per_hour(settings):
    settings.MOBILE_CODE_RESENDS_PER_HOUR = 3
    applicant = ApplicantFactory(mobile_verified_at=None)
    client = bearer(applicant)
    statuses = [client.post(RESEND).status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429]
    refused = client.post(RESEND)
    assert refused.json()["code"] == "throttled" and int(refused["Retry-After"]) > 0

    settings.RATE_LIMITS = "off"
    assert client.post(RESEND).status_code == 202


def test_codes_to_one_number_are_limited_but_registration_goes_on(register, settings):
    settings.MOBILE_CODES_PER_NUMBER_PER_HOUR = 2
    bodies = [register(full_name=f"Member {i}") for i in range(3)]
    assert all(body["mobile_verified"] is False for body in bodies)
    assert len(codes_sent_to(MOBILE)) == 2  # the third registration got no code
    third = Applicant.objects.get(application_number=bodies[2]["application_number"])
    assert bearer(third).post(RESEND).status_code == 429


def test_wrong_codes_from_one_client_are_limited_across_applicants(api, settings):
    settings.MOBILE_CODE_ATTEMPTS_PER_ADDRESS = 3
    applicants = [ApplicantFactory(mobile_verified_at=None) for _ in range(4)]
    for applicant in applicants:
        mobile_code_send(applicant=applicant)
    statuses = [verify(api, a.application_number, "999999").status_code for a in applicants]
    assert statuses[:3] == [400, 400, 400] and statuses[3] == 429


def test_a_fifth_applicant_cannot_verify_a_shared_mobile(api, settings):
    settings.APPLICANTS_PER_MOBILE = 4
    family = [ApplicantFactory(mobile=MOBILE) for _ in range(4)]  # verified already
    fifth = ApplicantFactory(mobile=MOBILE, mobile_verified_at=None)
    mobile_code_send(applicant=fifth)
    code = mobile_code_send_code()

    response = verify(api, fifth.application_number, code)

    assert response.status_code == 409 and response.json()["code"] == "mobile_limit_reached"
    fifth.refresh_from_db()
    assert not fifth.mobile_verified and len(family) == 4
    # Another number is its own family.
    other = ApplicantFactory(mobile="+919826099999", mobile_verified_at=None)
    mobile_code_send(applicant=other)
    mobile_code_send_code()
    assert verify(api, other.application_number, code_sent_to("+919826099999")).status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_applicants_racing_for_the_last_place_on_a_mobile_get_one(settings, round_):
    settings.APPLICANTS_PER_MOBILE = 1
    mobile = f"+91982601{round_:04d}"
    racers = [ApplicantFactory(mobile=mobile, mobile_verified_at=None) for _ in range(2)]
    for applicant in racers:
        mobile_code_send(applicant=applicant)  # autocommit: sent by the dispatcher at once
    codes = dict(zip([a.pk for a in racers], codes_sent_to(mobile), strict=True))
    barrier = threading.Barrier(2)
    outcomes = []

    def race(applicant):
        try:
            barrier.wait()
            mobile_verify(applicant=applicant, code=codes[applicant.pk])
            outcomes.append("verified")
        except Exception as error:  # a deadlock or any other error shows here by its name
            outcomes.append(type(error).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(a,)) for a in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["MobileLimitReached", "verified"]
    assert Applicant.objects.filter(mobile=mobile, mobile_verified_at__isnull=False).count() == 1


def test_verification_off_sends_nothing_and_lets_the_applicant_book(
    api, register, settings, bhopal_slot, django_capture_on_commit_callbacks
):
    settings.MOBILE_VERIFICATION = "off"
    body = register()
    assert body["mobile_verified"] is False  # the field as it is
    assert sms_sent() == []
    applicant = Applicant.objects.get(application_number=body["application_number"])
    with django_capture_on_commit_callbacks(execute=True):
        booked = bearer(applicant).post("/api/v1/bookings/", {"slot": bhopal_slot.pk})
    assert booked.status_code == 201
    assert verify(api, body["application_number"], "123456").json() == {"mobile_verified": False}


def test_the_applicant_output_says_whether_the_mobile_is_verified(applicant_api, applicant):
    response = applicant_api.patch(
        "/api/v1/applicants/me/",
        {"learner_licence_issued_on": (timezone.localdate() - timedelta(days=40)).isoformat()},
        format="json",
    )
    assert response.status_code == 200 and response.json()["mobile_verified"] is True
