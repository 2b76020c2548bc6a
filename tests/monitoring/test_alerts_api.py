"""POST /api/v1/alerts/: Alertmanager's webhook makes, finds, withdraws and confirms outage
proposals (API.md, "Outages detected by monitoring")."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from monitoring.models import OutageProposal
from slots.models import Booking, Outage
from slots.services.bookings import booking_create
from slots.services.outages import outage_create, outage_resolve
from tests.conftest import in_days
from tests.factories import ApplicantFactory, SlotFactory
from tests.monitoring.conftest import (
    ALERTS,
    TOKEN,
    alert,
    assert_error,
    confirm_url,
    send,
    webhook,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(bhopal, indore, photo, learner):
    return bhopal


# --- Who may call ---------------------------------------------------------------------------


def test_missing_token_answers_401(api, catalogue):
    response = api.post(ALERTS, webhook(alert()), format="json")
    assert_error(response, 401, "not_authenticated")
    assert not OutageProposal.objects.exists()


@pytest.mark.parametrize(
    "header",
    [f"Bearer {TOKEN}x", "Bearer wrong", f"Token {TOKEN}", "Bearer", f"Bearer {TOKEN} extra"],
)
def test_wrong_token_answers_401(catalogue, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.post(ALERTS, webhook(alert()), format="json")
    assert_error(response, 401, "not_authenticated")
    assert not OutageProposal.objects.exists()


def test_unset_token_refuses_every_call(alertmanager, catalogue, settings):
    settings.ALERT_WEBHOOK_TOKEN = ""
    assert_error(send(alertmanager, alert()), 401, "not_authenticated")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer ")
    assert_error(client.post(ALERTS, webhook(alert()), format="json"), 401, "not_authenticated")


def test_a_staff_token_is_not_the_webhook_token(bhopal_api, catalogue):
    assert_error(bhopal_api.post(ALERTS, webhook(alert()), format="json"), 401, "not_authenticated")


# --- What is not such a payload -------------------------------------------------------------


def test_non_json_answers_400_invalid(alertmanager, catalogue):
    response = alertmanager.post(ALERTS, "{not json", content_type="application/json")
    assert_error(response, 400, "invalid")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": "4", "status": "firing"}, "alerts"),
        ({"alerts": "firing"}, "alerts"),
        ({"alerts": [{"status": "burning", "labels": {"office": "MP-04"}}]}, "alerts.0.status"),
        ({"alerts": [{"status": "firing"}]}, "alerts.0.labels"),
        ({"alerts": [{"status": "firing", "labels": ["MP-04"]}]}, "alerts.0.labels"),
        ({"alerts": [{"status": "firing", "labels": {"office": 4}}]}, "alerts.0.labels.office"),
        ({"alerts": [alert(office="MP-99")]}, "alerts.0.labels.office"),
        ({"alerts": [alert(service="tea-making")]}, "alerts.0.labels.service"),
        ({"alerts": [alert(starts_at="yesterday")]}, "alerts.0.startsAt"),
        ({"alerts": [alert(), "firing"]}, "alerts.1.non_field_errors"),
        ({"alerts": [alert(office="MP-04\x00")]}, "alerts.0.labels.office"),
    ],
)
def test_a_body_that_is_not_an_alertmanager_payload_answers_400(
    alertmanager, catalogue, body, field
):
    response = alertmanager.post(ALERTS, body, format="json")
    body = assert_error(response, 400, "invalid")
    assert field in body["fields"], body
    assert not OutageProposal.objects.exists()


def test_an_alert_without_office_label_answers_400(alertmanager, catalogue):
    item = alert()
    del item["labels"]["office"]
    body = assert_error(send(alertmanager, item), 400, "invalid")
    assert "alerts.0.labels.office" in body["fields"]


@pytest.mark.parametrize("body", [[], None, "alerts", 42])
def test_json_that_is_not_an_object_answers_400(alertmanager, catalogue, body):
    response = alertmanager.post(ALERTS, body, format="json")
    assert_error(response, 400, "invalid")


def test_more_than_1000_alerts_answer_400(alertmanager, catalogue):
    items = [alert(fingerprint=f"fp-{i}") for i in range(1001)]
    body = assert_error(send(alertmanager, *items), 400, "invalid")
    assert "alerts" in body["fields"]
    assert not OutageProposal.objects.exists()


def test_one_bad_alert_makes_nothing_of_the_good_ones(alertmanager, catalogue):
    response = send(
        alertmanager, alert(fingerprint="good"), alert(fingerprint="bad", office="XX-1")
    )
    body = assert_error(response, 400, "invalid")
    assert list(body["fields"]) == ["alerts.1.labels.office"]
    assert not OutageProposal.objects.exists()


# --- Firing ---------------------------------------------------------------------------------


def test_firing_alert_proposes_an_open_ended_outage_of_its_office_and_service(
    alertmanager, catalogue, photo
):
    response = send(alertmanager, alert(service="photo-biometrics"))

    assert response.status_code == 202, response.content
    (pk,) = response.json()["proposals"]
    proposal = OutageProposal.objects.get(pk=pk)
    assert (proposal.kind, proposal.state, proposal.office.code) == ("declare", "open", "MP-04")
    assert list(proposal.services.all()) == [photo]
    assert proposal.reason == "Licence server not answering"
    assert proposal.outage is None and not Outage.objects.exists()


def test_without_a_service_label_every_service_and_without_summary_a_default_reason(
    alertmanager, catalogue
):
    response = send(alertmanager, alert(summary=None), alert(fingerprint="other", service=""))
    first, second = (OutageProposal.objects.get(pk=pk) for pk in response.json()["proposals"])
    assert first.services.count() == 0 and second.services.count() == 0
    assert first.reason == "Reported by monitoring" and first.reason_hi
    assert second.reason == "Licence server not answering"


def test_same_fingerprint_twice_finds_the_same_proposal(alertmanager, catalogue):
    first = send(alertmanager, alert()).json()["proposals"]
    second = send(alertmanager, alert(), alert()).json()["proposals"]
    assert first == second and len(first) == 1
    assert OutageProposal.objects.count() == 1


def test_without_a_fingerprint_the_labels_name_the_alert(alertmanager, catalogue):
    first = send(alertmanager, alert(fingerprint=None)).json()["proposals"]
    again = send(alertmanager, alert(fingerprint=None)).json()["proposals"]
    other = send(alertmanager, alert(fingerprint=None, office="MP-09")).json()["proposals"]
    assert first == again and first != other


def test_firing_again_after_its_outage_was_resolved_proposes_anew(
    alertmanager, catalogue, superuser_api
):
    (pk,) = send(alertmanager, alert()).json()["proposals"]
    superuser_api.post(confirm_url(pk))
    outage_resolve(outage=OutageProposal.objects.get(pk=pk).outage)

    (again,) = send(alertmanager, alert()).json()["proposals"]
    assert again != pk
    assert OutageProposal.objects.get(pk=again).state == "open"


# --- Resolved -------------------------------------------------------------------------------


def test_resolved_alert_withdraws_an_unconfirmed_proposal(alertmanager, catalogue):
    (pk,) = send(alertmanager, alert()).json()["proposals"]

    response = send(alertmanager, alert("resolved"))

    assert response.status_code == 202
    assert response.json()["proposals"] == [pk]
    proposal = OutageProposal.objects.get(pk=pk)
    assert proposal.state == "withdrawn" and proposal.withdrawn_at is not None
    assert not Outage.objects.exists()
    # The alert fires again later: a new proposal.
    (again,) = send(alertmanager, alert()).json()["proposals"]
    assert again != pk


def test_resolved_alert_nobody_proposed_anything_for_answers_an_empty_list(alertmanager, catalogue):
    response = send(alertmanager, alert("resolved"))
    assert response.status_code == 202 and response.json() == {"proposals": []}


def test_confirmed_then_resolved_proposes_to_resolve_the_outage(
    alertmanager, catalogue, superuser_api
):
    (pk,) = send(alertmanager, alert()).json()["proposals"]
    outage_id = superuser_api.post(confirm_url(pk)).json()["outage"]["id"]

    (resolve_pk,) = send(alertmanager, alert("resolved")).json()["proposals"]
    repeated = send(alertmanager, alert("resolved")).json()["proposals"]

    assert repeated == [resolve_pk] and resolve_pk != pk
    resolve = OutageProposal.objects.get(pk=resolve_pk)
    assert (resolve.kind, resolve.state, resolve.outage_id) == ("resolve", "open", outage_id)
    assert Outage.objects.get(pk=outage_id).resolved_at is None  # a clerk confirms it

    answer = superuser_api.post(confirm_url(resolve_pk))
    assert answer.status_code == 200, answer.content
    assert answer.json()["outage"]["status"] == "resolved"
    assert answer.json()["proposal"]["state"] == "confirmed"


def test_confirming_when_a_clerk_already_marked_the_service_down_declares_no_second_outage(
    alertmanager, catalogue, superuser_api, bhopal
):
    by_hand = outage_create(offices=[bhopal], expected_end=in_days(1), reason="Server down")
    (pk,) = send(alertmanager, alert()).json()["proposals"]
    answer = superuser_api.post(confirm_url(pk)).json()
    assert answer["outage"]["id"] == by_hand.pk and Outage.objects.count() == 1
    # The service back: the proposal to resolve names the clerk's outage.
    (resolve_pk,) = send(alertmanager, alert("resolved")).json()["proposals"]
    assert OutageProposal.objects.get(pk=resolve_pk).outage_id == by_hand.pk


def test_firing_again_before_the_resolve_is_confirmed_withdraws_it(
    alertmanager, catalogue, superuser_api
):
    (pk,) = send(alertmanager, alert()).json()["proposals"]
    superuser_api.post(confirm_url(pk))
    (resolve_pk,) = send(alertmanager, alert("resolved")).json()["proposals"]

    assert send(alertmanager, alert()).json()["proposals"] == [pk]

    assert OutageProposal.objects.get(pk=resolve_pk).state == "withdrawn"
    assert OutageProposal.objects.get(pk=pk).outage.resolved_at is None


# --- Auto mode ------------------------------------------------------------------------------


def test_auto_mode_declares_at_once_and_resolves_at_once(
    alertmanager, catalogue, bhopal_photo, settings, django_capture_on_commit_callbacks
):
    settings.OUTAGE_AUTO_DECLARE = True
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(1), capacity=4)
    booking = booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)

    with django_capture_on_commit_callbacks(execute=True):
        (pk,) = send(alertmanager, alert(service="photo-biometrics")).json()["proposals"]

    proposal = OutageProposal.objects.get(pk=pk)
    assert proposal.state == "confirmed" and proposal.confirmed_by is None
    outage = proposal.outage
    assert (outage.expected_end, outage.capacity_percent, outage.resolved_at) == (None, 0, None)
    assert [o.code for o in outage.offices.all()] == ["MP-04"]
    assert outage.reason == "Licence server not answering"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.ON_HOLD

    with django_capture_on_commit_callbacks(execute=True):
        (resolve_pk,) = send(alertmanager, alert("resolved")).json()["proposals"]

    resolve = OutageProposal.objects.get(pk=resolve_pk)
    assert (resolve.kind, resolve.state) == ("resolve", "confirmed")
    outage.refresh_from_db()
    assert outage.resolved_at is not None
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_office_code_case_and_long_unrelated_labels_are_accepted(alertmanager, catalogue):
    item = alert(office=" mp-04 ")
    item["labels"]["instance"] = "https://sarathi.example.nic.in/" + "x" * 1500
    response = send(alertmanager, item)
    assert response.status_code == 202, response.content
    (pk,) = response.json()["proposals"]
    assert OutageProposal.objects.get(pk=pk).office.code == "MP-04"
