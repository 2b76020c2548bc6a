"""The reminder's one-tap pages: "I'll come" (/yes/…) and "I can't come" (/no/…), without a
sign-in or JavaScript, in English and Hindi; and "Confirmed" / "Please confirm" on My bookings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from slots.links import reminder_link_url
from slots.models import Booking, BookingEvent, Slot
from slots.services.bookings import booking_create
from tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def soon(bhopal_photo):
    """A slot 30 hours ahead: inside REMINDER_HOURS."""
    starts_at = (timezone.now() + timedelta(hours=30)).replace(second=0, microsecond=0)
    return SlotFactory(offering=bhopal_photo, starts_at=starts_at, capacity=4)


@pytest.fixture
def booking(applicant, soon):
    return booking_create(applicant=applicant, slot_id=soon.pk)


def _path(action: str, booking) -> str:
    url = reminder_link_url(action=action, reference=booking.reference)
    return url.split("://", 1)[1][url.split("://", 1)[1].index("/") :]


def test_ill_come_shows_the_booking_then_confirms_it_once(client, booking):
    path = _path("yes", booking)
    html = client.get(path).content.decode()
    assert "Will you come? Confirm your booking" in html and booking.reference in html
    assert "<script" not in html.split("<main", 1)[-1].split("</main>", 1)[0]
    booking.refresh_from_db()
    assert booking.confirmed_at is None  # opening the link (a previewer) changes nothing

    response = client.post(path)
    assert response.status_code == 200
    assert "Thank you: see you there" in response.content.decode()
    booking.refresh_from_db()
    assert booking.confirmed_at is not None
    event = booking.events.get(kind=BookingEvent.Kind.CONFIRMED)
    assert event.actor == BookingEvent.Actor.APPLICANT

    # Again: still confirmed, no second history row.
    assert "Thank you: see you there" in client.post(path).content.decode()
    assert booking.events.filter(kind=BookingEvent.Kind.CONFIRMED).count() == 1


@pytest.mark.parametrize(
    "bad",
    [
        lambda token: token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),  # edited signature
        lambda token: "ABCDEFGHJK" + token[-12:],  # another reference
        lambda token: "nonsense",
        lambda token: token + "x" * 30,
    ],
)
def test_a_tampered_link_gets_a_friendly_page_not_an_error(client, booking, bad):
    token = _path("yes", booking).rsplit("/", 1)[1]
    for name in ("applicants:reminder_yes", "applicants:reminder_no"):
        path = reverse(name, args=[bad(token)])
        for response in (client.get(path), client.post(path)):
            assert response.status_code == 400
            assert "This link does not work" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED and booking.confirmed_at is None


def test_a_yes_link_does_not_work_as_a_no_link(client, booking):
    token = _path("yes", booking).rsplit("/", 1)[1]
    assert client.post(reverse("applicants:reminder_no", args=[token])).status_code == 400
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_i_cant_come_frees_the_seat(client, booking):
    path = _path("no", booking)
    html = client.get(path).content.decode()
    assert "Cancel your booking" in html
    html = client.post(path).content.decode()
    assert "Your booking is cancelled" in html
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert Slot.objects.get(pk=booking.slot_id).booked == 0
    assert booking.events.get(kind=BookingEvent.Kind.CANCELLED).actor == "applicant"
    # "I'll come" afterwards: nothing to confirm, said plainly.
    html = client.post(_path("yes", booking)).content.decode()
    assert "Nothing to confirm" in html
    booking.refresh_from_db()
    assert booking.confirmed_at is None


def test_the_pages_speak_the_applicants_language(client, hindi_applicant, soon):
    booking = booking_create(applicant=hindi_applicant, slot_id=soon.pk)
    html = client.get(_path("yes", booking)).content.decode()
    assert "क्या आप आएँगे? अपनी बुकिंग पक्की करें" in html
    assert "हाँ, मैं आऊँगा/आऊँगी" in html
    html = client.post(_path("yes", booking)).content.decode()
    assert "धन्यवाद" in html
    html = client.get(_path("no", booking)).content.decode()
    assert "Cancel your booking" not in html


def test_my_bookings_says_please_confirm_then_confirmed(applicant_client, booking):
    html = applicant_client.get(reverse("applicants:my_bookings")).content.decode()
    assert "Please confirm" in html
    response = applicant_client.post(
        reverse("applicants:confirm_coming", args=[booking.reference]), follow=True
    )
    html = response.content.decode()
    assert f"Thank you: booking {booking.reference} is confirmed." in html
    assert "Please confirm" not in html and ">Confirmed</span>" in html
    assert "You confirmed that you will come." in html
    booking.refresh_from_db()
    assert booking.confirmed_at is not None


def test_another_applicant_cannot_confirm_from_my_bookings(other_client, booking):
    url = reverse("applicants:confirm_coming", args=[booking.reference])
    assert other_client.post(url).status_code == 404
    booking.refresh_from_db()
    assert booking.confirmed_at is None


def test_a_booking_on_hold_has_nothing_to_confirm_and_is_pointed_to_my_bookings(client, booking):
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.ON_HOLD)
    response = client.post(_path("yes", booking))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nothing to confirm" in html and "has no time to confirm now" in html
    assert "no-store" in response["Cache-Control"]
    booking.refresh_from_db()
    assert booking.confirmed_at is None and booking.status == Booking.Status.ON_HOLD
