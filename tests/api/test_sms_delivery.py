"""POST /api/v1/sms/delivery/: the gateway's delivery reports (docs/API.md, "SMS gateways"),
`delivery` on a booking's notifications, and the e-mail fallback of an undelivered SMS."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from notifications.models import Notification
from tests.factories import ApplicantFactory, BookingFactory, NotificationFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/sms/delivery/"
TOKEN = "dlr-secret-token"


@pytest.fixture
def gateway_api(settings):
    settings.SMS_DLR_TOKEN = TOKEN
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    return client


def sent_sms(booking=None, provider_id="gw-1", **kwargs) -> Notification:
    return NotificationFactory(
        booking=booking or BookingFactory(),
        status=Notification.Status.SENT,
        sent_at=timezone.now(),
        provider_id=provider_id,
        **kwargs,
    )


def test_a_delivery_report_is_recorded_and_answers_204(gateway_api):
    row = sent_sms()
    response = gateway_api.post(URL, {"id": "gw-1", "status": "delivered"}, format="json")
    assert response.status_code == 204 and response.content == b""
    row.refresh_from_db()
    assert row.delivery == "delivered" and row.delivery_reported_at is not None


def test_an_unknown_id_is_404_with_the_error_shape(gateway_api):
    response = gateway_api.post(URL, {"id": "gw-404", "status": "delivered"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "headers", [{}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": "Token x"}]
)
def test_a_wrong_or_missing_token_is_401(settings, headers):
    settings.SMS_DLR_TOKEN = TOKEN
    sent_sms()
    response = APIClient().post(
        URL, {"id": "gw-1", "status": "delivered"}, format="json", **headers
    )
    assert response.status_code == 401
    assert response.json()["code"] in {"not_authenticated", "authentication_failed"}


def test_no_token_configured_refuses_every_report(settings):
    settings.SMS_DLR_TOKEN = ""
    response = APIClient().post(
        URL, {"id": "gw-1", "status": "delivered"}, format="json", HTTP_AUTHORIZATION="Bearer "
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"id": "gw-1"},
        {"status": "delivered"},
        {"id": "gw-1", "status": "read"},
        {"id": 7, "status": "delivered"},
        {"id": "", "status": "delivered"},
        ["gw-1", "delivered"],
    ],
)
def test_a_bad_body_is_400_with_the_error_shape(gateway_api, body):
    sent_sms()
    response = gateway_api.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_malformed_json_is_400(gateway_api):
    response = gateway_api.generic("POST", URL, "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_delivered_is_final_and_a_later_report_does_not_undo_it(gateway_api):
    row = sent_sms()
    gateway_api.post(URL, {"id": "gw-1", "status": "delivered"}, format="json")
    gateway_api.post(URL, {"id": "gw-1", "status": "expired"}, format="json")
    row.refresh_from_db()
    assert row.delivery == "delivered"


def test_an_undelivered_sms_falls_back_to_e_mail(gateway_api):
    booking = BookingFactory(applicant=ApplicantFactory(email="later@example.in"))
    row = sent_sms(booking=booking, event_key="event:77")

    response = gateway_api.post(URL, {"id": "gw-1", "status": "undelivered"}, format="json")

    assert response.status_code == 204
    email = Notification.objects.get(channel="email")
    assert (email.event_key, email.kind, email.recipient) == (
        "event:77",
        row.kind,
        "later@example.in",
    )
    # Written for the dispatcher, due at once (it is started after the commit).
    assert email.status == "pending" and email.next_attempt_at <= timezone.now()


def test_no_second_e_mail_when_the_message_already_had_one(gateway_api):
    booking = BookingFactory(applicant=ApplicantFactory(email="a@example.in"))
    sent_sms(booking=booking, event_key="event:78")
    NotificationFactory(
        booking=booking,
        event_key="event:78",
        channel="email",
        status="sent",
        sent_at=timezone.now(),
    )
    gateway_api.post(URL, {"id": "gw-1", "status": "expired"}, format="json")
    assert Notification.objects.filter(channel="email").count() == 1


def test_no_fallback_without_an_address(gateway_api):
    sent_sms(booking=BookingFactory(applicant=ApplicantFactory(email="")))
    gateway_api.post(URL, {"id": "gw-1", "status": "undelivered"}, format="json")
    assert not Notification.objects.filter(channel="email").exists()


def test_the_booking_shows_delivery_on_each_notification(gateway_api, applicant):
    from applicants.tokens import applicant_token_issue

    booking = BookingFactory(applicant=applicant)
    sent_sms(booking=booking)
    gateway_api.post(URL, {"id": "gw-1", "status": "delivered"}, format="json")
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {applicant_token_issue(applicant=applicant).token}"
    )
    answer = client.get(f"/api/v1/bookings/{booking.reference}/").json()
    assert [n["delivery"] for n in answer["notifications"]] == ["delivered"]
