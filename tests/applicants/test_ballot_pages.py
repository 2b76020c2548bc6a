"""The ballot on the applicant pages: the calendar, the times and the confirm page say until when
the new day is drawn by lot; confirming enters the draw; My bookings shows the request and its
result. On the real clock the ballot spans today (RELEASE_BALLOT_MINUTES 1440); the default ten
minutes are proven in tests/slots/test_ballot.py."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from slots.models import BallotEntry, Booking
from slots.services.ballot_draw import ballots_draw
from tests.applicants.conftest import sign_in
from tests.factories import ApplicantFactory, SlotFactory, local_dt

pytestmark = pytest.mark.django_db


@pytest.fixture
def closes_at(settings):
    settings.RELEASE_BALLOT_MINUTES = 24 * 60
    tomorrow = timezone.localdate() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(tomorrow, time()))


@pytest.fixture
def opening_slot(bhopal_photo, closes_at):
    day = timezone.localdate() + timedelta(days=settings.BOOKING_HORIZON_DAYS)
    return SlotFactory(offering=bhopal_photo, starts_at=local_dt(day, 10), capacity=1)


def _times_url(slot):
    return f"/book/MP-04/photo-biometrics/{timezone.localdate(slot.starts_at)}/"


def test_calendar_times_and_confirm_say_the_ballot_is_open(applicant_client, opening_slot):
    days = applicant_client.get("/book/MP-04/photo-biometrics/").content.decode()
    assert "Ballot open until 00:00" in days
    times = applicant_client.get(_times_url(opening_slot)).content.decode()
    assert "Ballot open until 00:00" in times and "asking more than once" in times
    confirm = applicant_client.get(f"/book/slot/{opening_slot.pk}/").content.decode()
    assert "Ballot open until 00:00" in confirm and "Enter the draw" in confirm


def test_confirming_enters_the_draw_and_my_bookings_shows_it(applicant_client, opening_slot):
    response = applicant_client.post(f"/book/slot/{opening_slot.pk}/", follow=True)

    assert response.redirect_chain[-1][0] == "/my/bookings/#ballot"
    page = response.content.decode()
    assert "Your request is in the draw" in page
    assert "My requests in a draw" in page and "Ballot open until 00:00" in page
    assert not Booking.objects.exists()
    assert BallotEntry.objects.get().state == "pending"
    # Asking again changes nothing.
    applicant_client.post(f"/book/slot/{opening_slot.pk}/")
    assert BallotEntry.objects.count() == 1


def test_my_bookings_shows_the_result_of_the_draw(client, opening_slot, closes_at):
    drawn, other = ApplicantFactory(), ApplicantFactory()
    for applicant in (drawn, other):
        sign_in(client, applicant).post(f"/book/slot/{opening_slot.pk}/")

    ballots_draw(now=closes_at)

    pages = {
        entry.state: sign_in(client, entry.applicant).get("/my/bookings/").content.decode()
        for entry in BallotEntry.objects.select_related("applicant")
    }
    assert "Drawn: you have a seat." in pages["won"]
    assert "Not drawn this time." in pages["lost"]
    assert "You are on the waiting list for that day" in pages["lost"]


def test_the_hindi_pages_say_it_in_hindi(client, hindi_applicant, opening_slot):
    sign_in(client, hindi_applicant)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "hi"
    times = client.get(_times_url(opening_slot), HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert "Ballot open" not in times
    assert "लॉटरी" in times and "00:00" in times


def test_a_day_with_times_but_no_free_seat_offers_its_waiting_list(applicant_client, bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, capacity=1, booked=1)
    page = applicant_client.get(_times_url(slot)).content.decode()
    assert 'id="waitlist"' in page
    day = str(timezone.localdate(slot.starts_at))
    assert f'name="from" value="{day}"' in page and f'name="to" value="{day}"' in page


def test_a_day_with_a_free_seat_does_not(applicant_client, bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, capacity=2, booked=1)
    assert 'id="waitlist"' not in applicant_client.get(_times_url(slot)).content.decode()
