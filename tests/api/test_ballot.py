"""The ballot when a day opens, through the API (docs/API.md, "Ballot when a day opens").

The API runs on the real clock, so the ballot is made to span today (RELEASE_BALLOT_MINUTES
1440: the day that opened at midnight is drawn at the next one); tests/slots/test_ballot.py
proves the default ten minutes with the services' `now`.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from slots.models import BallotEntry
from slots.services.ballot_draw import ballots_draw
from slots.services.bookings import booking_create
from tests.api.conftest import assert_error
from tests.factories import SlotFactory, local_dt

pytestmark = pytest.mark.django_db

BOOKINGS = "/api/v1/bookings/"
BALLOT = "/api/v1/ballot/"
ENTRY_FIELDS = {
    "id",
    "office",
    "service",
    "day",
    "slot",
    "closes_at",
    "state",
    "booking",
    "waitlist",
    "created_at",
}


@pytest.fixture
def all_day_ballot(settings):
    settings.RELEASE_BALLOT_MINUTES = 24 * 60
    today = timezone.localdate()
    return timezone.make_aware(datetime.combine(today + timedelta(days=1), time()))


@pytest.fixture
def opening_slot(bhopal_photo, all_day_ballot):
    day = timezone.localdate() + timedelta(days=settings.BOOKING_HORIZON_DAYS)
    return SlotFactory(offering=bhopal_photo, starts_at=local_dt(day, 10), capacity=1)


def test_availability_shows_until_when_the_new_day_is_balloted(api, opening_slot, all_day_ballot):
    day = timezone.localdate(opening_slot.starts_at)
    response = api.get(
        f"/api/v1/offices/MP-04/availability/?service=photo-biometrics"
        f"&from={day - timedelta(days=1)}&to={day}"
    )
    assert response.status_code == 200
    before, opening = response.json()["days"]
    assert before["ballot_until"] is None
    assert opening["status"] == "open"
    assert datetime.fromisoformat(opening["ballot_until"]) == all_day_ballot


def test_a_booking_request_answers_202_with_its_entry(applicant_api, opening_slot, all_day_ballot):
    response = applicant_api.post(BOOKINGS, {"slot": opening_slot.pk}, format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == ENTRY_FIELDS
    assert (body["office"], body["service"], body["state"], body["booking"]) == (
        "MP-04",
        "photo-biometrics",
        "pending",
        None,
    )
    assert body["slot"]["id"] == opening_slot.pk
    assert datetime.fromisoformat(body["closes_at"]) == all_day_ballot
    assert applicant_api.get(BOOKINGS).json() == []


def test_fifty_requests_from_one_client_are_one_entry(applicant_api, opening_slot):
    answers = {
        applicant_api.post(BOOKINGS, {"slot": opening_slot.pk}, format="json").json()["id"]
        for _ in range(50)
    }
    assert len(answers) == 1
    assert BallotEntry.objects.count() == 1


def test_a_retry_with_the_same_idempotency_key_gets_the_same_entry(applicant_api, opening_slot):
    first = applicant_api.post(
        BOOKINGS, {"slot": opening_slot.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = applicant_api.post(
        BOOKINGS, {"slot": opening_slot.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json() == again.json()


def test_the_list_shows_each_request_and_then_its_result(
    applicant_api, other_applicant_api, opening_slot, all_day_ballot
):
    for client in (applicant_api, other_applicant_api):
        assert client.post(BOOKINGS, {"slot": opening_slot.pk}, format="json").status_code == 202
    (pending,) = applicant_api.get(BALLOT).json()
    assert pending["state"] == "pending"

    ballots_draw(now=all_day_ballot)

    results = [applicant_api.get(BALLOT).json()[0], other_applicant_api.get(BALLOT).json()[0]]
    assert sorted(r["state"] for r in results) == ["lost", "won"]
    won = next(r for r in results if r["state"] == "won")
    lost = next(r for r in results if r["state"] == "lost")
    assert won["booking"] and lost["booking"] is None and lost["waitlist"]
    client = applicant_api if results[0] is won else other_applicant_api
    (booking,) = client.get(BOOKINGS).json()
    assert booking["reference"] == won["booking"]
    assert booking["slot"]["id"] == opening_slot.pk


def test_a_move_into_the_balloted_day_is_409_ballot_open(applicant_api, applicant, opening_slot):
    booking = booking_create(
        applicant=applicant, slot_id=SlotFactory(offering=opening_slot.offering).pk
    )
    response = applicant_api.post(
        f"{BOOKINGS}{booking.reference}/reschedule/", {"slot": opening_slot.pk}, format="json"
    )
    assert_error(response, 409, "ballot_open")


def test_the_ballot_list_needs_an_applicant(api, bhopal_api):
    assert api.get(BALLOT).status_code == 401
    assert bhopal_api.get(BALLOT).status_code == 403
