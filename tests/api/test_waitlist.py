"""docs/API.md, "Waiting list and offers": paths, fields, states and codes to the letter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from slots.models import Offer, Slot
from slots.services.bookings import booking_cancel, booking_create
from slots.services.waitlist import offers_make
from tests.api.conftest import assert_error
from tests.conftest import in_days
from tests.factories import ApplicantFactory, SlotFactory

pytestmark = pytest.mark.django_db

WAITLIST = "/api/v1/waitlist/"
OFFERS = "/api/v1/offers/"
ENTRY_FIELDS = {"id", "office", "service", "from", "to", "state", "position", "created_at"}
OFFER_FIELDS = {"id", "office", "service", "slot", "expires_at", "state"}


@pytest.fixture
def full_slot(bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(3, 11), capacity=1)
    holder = booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    return slot, holder


def _join(client, slot, **overrides):
    day = timezone.localdate(slot.starts_at)
    body = {
        "office": slot.office.code,
        "service": slot.service.slug,
        "from": str(day - timedelta(days=1)),
        "to": str(day + timedelta(days=2)),
        **overrides,
    }
    return client.post(WAITLIST, body, format="json")


def _offer_for(slot, holder) -> Offer:
    booking_cancel(booking=holder)
    offers_make(office_id=slot.office_id, service_id=slot.service_id)
    return Offer.objects.get(state="open")


def test_joining_answers_201_with_the_entry(applicant_api, full_slot):
    slot, _holder = full_slot
    response = _join(applicant_api, slot)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == ENTRY_FIELDS
    assert (body["office"], body["service"], body["state"], body["position"]) == (
        "MP-04",
        "photo-biometrics",
        "waiting",
        1,
    )
    assert body["from"] == str(timezone.localdate(slot.starts_at) - timedelta(days=1))


def test_joining_twice_answers_409_already_waiting(applicant_api, full_slot):
    slot, _holder = full_slot
    assert _join(applicant_api, slot).status_code == 201
    assert_error(_join(applicant_api, slot), 409, "already_waiting")


def test_joining_with_an_active_booking_answers_409_already_booked(applicant_api, applicant):
    slot = SlotFactory(starts_at=in_days(3), capacity=2)
    booking_create(applicant=applicant, slot_id=slot.pk)
    assert_error(_join(applicant_api, slot), 409, "already_booked")


def test_a_reversed_range_answers_400_invalid(applicant_api, full_slot):
    slot, _holder = full_slot
    day = timezone.localdate(slot.starts_at)
    body = assert_error(
        _join(applicant_api, slot, **{"from": str(day), "to": str(day - timedelta(days=1))}),
        400,
        "invalid",
    )
    assert "to" in body["fields"]


def test_listing_shows_own_entries_only(applicant_api, other_applicant_api, full_slot):
    slot, _holder = full_slot
    _join(applicant_api, slot)
    mine = applicant_api.get(WAITLIST)
    assert mine.status_code == 200 and len(mine.json()) == 1
    assert set(mine.json()[0]) == ENTRY_FIELDS
    assert other_applicant_api.get(WAITLIST).json() == []


def test_leaving_answers_204_and_someone_elses_entry_404(
    applicant_api, other_applicant_api, full_slot
):
    slot, _holder = full_slot
    entry_id = _join(applicant_api, slot).json()["id"]
    assert_error(other_applicant_api.delete(f"{WAITLIST}{entry_id}/"), 404, "not_found")
    response = applicant_api.delete(f"{WAITLIST}{entry_id}/")
    assert response.status_code == 204
    assert applicant_api.get(WAITLIST).json()[0]["state"] == "left"


def test_the_waiting_list_needs_an_applicant(api):
    assert_error(api.get(WAITLIST), 401, "not_authenticated")


def test_offers_list_and_accept_answers_201_with_a_booking(applicant_api, full_slot):
    slot, holder = full_slot
    _join(applicant_api, slot)
    offer = _offer_for(slot, holder)

    listed = applicant_api.get(OFFERS)
    assert listed.status_code == 200
    (shown,) = listed.json()
    assert set(shown) == OFFER_FIELDS
    assert shown["state"] == "open" and shown["slot"]["id"] == slot.pk
    assert set(shown["slot"]) == {"id", "starts_at", "ends_at"}
    assert (shown["office"], shown["service"]) == ("MP-04", "photo-biometrics")

    response = applicant_api.post(f"{OFFERS}{offer.pk}/accept/")
    assert response.status_code == 201, response.json()
    booking = response.json()
    assert booking["status"] == "confirmed" and booking["slot"]["id"] == slot.pk
    assert {"reference", "history", "notifications", "priority"} <= set(booking)
    assert applicant_api.get(OFFERS).json()[0]["state"] == "accepted"
    assert applicant_api.get(WAITLIST).json()[0]["state"] == "booked"


def test_a_held_seat_answers_409_slot_full_to_others(applicant_api, other_applicant_api, full_slot):
    slot, holder = full_slot
    _join(applicant_api, slot)
    _offer_for(slot, holder)
    response = other_applicant_api.post("/api/v1/bookings/", {"slot": slot.pk}, format="json")
    assert_error(response, 409, "slot_full")
    availability = other_applicant_api.get(
        f"/api/v1/offices/MP-04/availability/?service=photo-biometrics"
        f"&from={timezone.localdate(slot.starts_at)}&to={timezone.localdate(slot.starts_at)}"
    ).json()
    (shown,) = [s for d in availability["days"] for s in d["slots"] if s["id"] == slot.pk]
    assert shown["available"] == 0


def test_accepting_an_expired_offer_answers_409_offer_expired(applicant_api, full_slot):
    slot, holder = full_slot
    _join(applicant_api, slot)
    offer = _offer_for(slot, holder)
    Offer.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(applicant_api.post(f"{OFFERS}{offer.pk}/accept/"), 409, "offer_expired")


def test_someone_elses_offer_answers_404(applicant_api, other_applicant_api, full_slot):
    slot, holder = full_slot
    _join(applicant_api, slot)
    offer = _offer_for(slot, holder)
    assert_error(other_applicant_api.post(f"{OFFERS}{offer.pk}/accept/"), 404, "not_found")
    assert_error(other_applicant_api.post(f"{OFFERS}{offer.pk}/decline/"), 404, "not_found")
    assert other_applicant_api.get(OFFERS).json() == []


def test_declining_answers_200_and_frees_the_seat(applicant_api, full_slot):
    slot, holder = full_slot
    _join(applicant_api, slot)
    offer = _offer_for(slot, holder)
    response = applicant_api.post(f"{OFFERS}{offer.pk}/decline/")
    assert response.status_code == 200
    assert set(response.json()) == OFFER_FIELDS and response.json()["state"] == "declined"
    assert Slot.objects.get(pk=slot.pk).held_offers == 0
    assert_error(applicant_api.post(f"{OFFERS}{offer.pk}/accept/"), 409, "offer_expired")
