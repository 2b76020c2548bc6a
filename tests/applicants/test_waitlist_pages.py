"""The waiting-list pages, in English and Hindi, as plain HTML forms (no JavaScript)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from applicants.models import Applicant
from slots.links import offer_id_from_token, offer_path
from slots.models import Offer, WaitlistEntry
from slots.services.bookings import booking_cancel, booking_create
from slots.services.waitlist import offers_make, waitlist_join
from tests.applicants.conftest import sign_in
from tests.conftest import in_days
from tests.factories import ApplicantFactory, SlotFactory

pytestmark = pytest.mark.django_db

JOIN = {"en": "Join the waiting list", "hi": "प्रतीक्षा सूची में जुड़ें"}


@pytest.fixture
def full_slot(bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(3, 11), capacity=1)
    holder = booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    return slot, holder


def _days_url(slot):
    return reverse("applicants:book_days", args=[slot.office.code, slot.service.slug])


def _offered(slot, holder, applicant) -> Offer:
    day = timezone.localdate(slot.starts_at)
    waitlist_join(
        applicant=applicant, office=slot.office, service=slot.service, date_from=day, date_to=day
    )
    booking_cancel(booking=holder)
    offers_make(office_id=slot.office_id, service_id=slot.service_id)
    return Offer.objects.get(state="open")


@pytest.mark.parametrize("language", ["en", "hi"])
def test_a_calendar_without_a_free_day_offers_the_waiting_list(client, full_slot, language):
    slot, _holder = full_slot
    html = client.get(_days_url(slot), HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert JOIN[language] in html
    assert reverse("applicants:waitlist_join", args=["MP-04", "photo-biometrics"]) in html
    assert 'type="date"' in html and 'method="post"' in html


def test_a_calendar_with_a_free_day_does_not(client, bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(3, 11), capacity=2)
    html = client.get(_days_url(slot), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No free seat? Join the waiting list" not in html


@pytest.mark.parametrize("language", ["en", "hi"])
def test_joining_by_form_shows_the_entry_with_its_position(
    applicant_client, applicant, full_slot, language
):
    slot, _holder = full_slot
    day = timezone.localdate(slot.starts_at)
    url = reverse("applicants:waitlist_join", args=[slot.office.code, slot.service.slug])
    response = applicant_client.post(
        url,
        {"from": str(day), "to": str(day + timedelta(days=1))},
        HTTP_ACCEPT_LANGUAGE=language,
        follow=True,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert WaitlistEntry.objects.get(applicant=applicant).state == "waiting"
    assert {"en": "My waiting list", "hi": "मेरी प्रतीक्षा सूची"}[language] in html
    assert {"en": "You are number 1", "hi": "क्रमांक 1"}[language] in html


def test_joining_twice_by_form_says_so(applicant_client, full_slot):
    slot, _holder = full_slot
    url = reverse("applicants:waitlist_join", args=[slot.office.code, slot.service.slug])
    applicant_client.post(url, {})
    response = applicant_client.post(url, {})
    assert response.status_code == 409
    assert "already on the waiting list" in response.content.decode()


def test_signed_out_joining_goes_through_sign_in(client, full_slot):
    slot, _holder = full_slot
    url = reverse("applicants:waitlist_join", args=[slot.office.code, slot.service.slug])
    response = client.get(url)
    assert response.status_code == 302 and reverse("applicants:signin") in response["Location"]


def test_leaving_by_form(applicant_client, applicant, full_slot):
    slot, _holder = full_slot
    url = reverse("applicants:waitlist_join", args=[slot.office.code, slot.service.slug])
    applicant_client.post(url, {})
    entry = WaitlistEntry.objects.get(applicant=applicant)
    response = applicant_client.post(reverse("applicants:waitlist_leave", args=[entry.pk]))
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.state == "left"


def test_someone_elses_entry_cannot_be_left(other_applicant, applicant, full_slot):
    slot, _holder = full_slot
    day = timezone.localdate(slot.starts_at)
    entry = waitlist_join(
        applicant=applicant, office=slot.office, service=slot.service, date_from=day, date_to=day
    )
    other = sign_in(Client(), other_applicant)
    assert other.post(reverse("applicants:waitlist_leave", args=[entry.pk])).status_code == 404


@pytest.mark.parametrize("language", ["en", "hi"])
def test_the_offer_link_accepts_with_a_plain_form(client, full_slot, applicant, language):
    slot, holder = full_slot
    offer = _offered(slot, holder, applicant)
    url = offer_path(offer_id=offer.pk)
    # The page speaks the applicant's language (the SMS's), whatever the browser asks for.
    Applicant.objects.filter(pk=applicant.pk).update(preferred_language=language)
    other_language = {"en": "hi", "hi": "en"}[language]

    page = client.get(url, HTTP_ACCEPT_LANGUAGE=other_language).content.decode()
    assert {"en": "Accept and book this seat", "hi": "स्वीकार करें और यह सीट बुक करें"}[language] in page
    assert 'name="action" value="accept"' in page and 'value="decline"' in page

    done = client.post(url, {"action": "accept"}, HTTP_ACCEPT_LANGUAGE=other_language)
    assert done.status_code == 200
    assert {"en": "Your booking is confirmed", "hi": "आपकी बुकिंग पक्की हो गई है"}[
        language
    ] in done.content.decode()
    offer.refresh_from_db()
    assert offer.state == "accepted" and offer.booking.slot_id == slot.pk


def test_the_offer_link_declines(client, full_slot, applicant):
    slot, holder = full_slot
    offer = _offered(slot, holder, applicant)
    response = client.post(offer_path(offer_id=offer.pk), {"action": "decline"})
    assert "You said no to this seat" in response.content.decode()
    offer.refresh_from_db()
    assert offer.state == "declined"


@pytest.mark.parametrize("language", ["en", "hi"])
def test_an_expired_offer_says_so_clearly(client, full_slot, applicant, language):
    slot, holder = full_slot
    offer = _offered(slot, holder, applicant)
    Offer.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    Applicant.objects.filter(pk=applicant.pk).update(preferred_language=language)
    response = client.post(
        offer_path(offer_id=offer.pk),
        {"action": "accept"},
        HTTP_ACCEPT_LANGUAGE={"en": "hi", "hi": "en"}[language],
    )
    assert response.status_code == 409
    assert {"en": "This offer has expired", "hi": "इस ऑफ़र का समय निकल गया है"}[
        language
    ] in response.content.decode()
    assert not offer.applicant.bookings.exists()


def test_an_edited_offer_link_does_not_work(client, full_slot, applicant):
    slot, holder = full_slot
    offer = _offered(slot, holder, applicant)
    # Another id with the same signature (not "9": the offer itself may be number 9).
    edited = offer_path(offer_id=offer.pk).replace(str(offer.pk), str(offer.pk + 1), 1)
    response = client.get(edited)
    assert response.status_code == 400


def test_my_bookings_shows_the_open_offer(applicant_client, full_slot, applicant):
    slot, holder = full_slot
    offer = _offered(slot, holder, applicant)
    html = applicant_client.get(reverse("applicants:my_bookings")).content.decode()
    assert "A seat is held for you" in html
    # The link is signed with the second it was made: read it back rather than make it again.
    tokens = re.findall(r'href="/my/offers/([^/"]+)/"', html)
    assert [offer_id_from_token(token=token) for token in tokens] == [offer.pk]
