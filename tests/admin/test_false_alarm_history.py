"""An undone outage's booking history says "false alarm" (translated), not the outage's reason:
in the API's `history[].reason`, on the applicant's page and in the admin."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from applicants.tokens import applicant_token_issue
from slots.models import Booking
from slots.services.outage_undo import outage_undo
from tests.admin.conftest import fill_day, record_outage
from tests.applicants.conftest import sign_in

pytestmark = pytest.mark.django_db

FALSE_ALARM = {"en": "false alarm", "hi": "गलत सूचना"}


@pytest.fixture
def undone(photo_bhopal, bhopal, photo, outage_day):
    """One booking moved by an outage, then put back by its undo."""
    (booking,) = fill_day(photo_bhopal, outage_day, per_slot=1)[:1]
    outage = record_outage([bhopal], outage_day, services=[photo], reason="Photo server down")
    outage_undo(outage=outage)
    return Booking.objects.get(pk=booking.pk)


@pytest.mark.parametrize("language", ["en", "hi"])
def test_api_history_of_an_undone_outage_says_false_alarm(undone, language):
    client = APIClient()
    token = applicant_token_issue(applicant=undone.applicant).token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.get(f"/api/v1/bookings/{undone.reference}/", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 200
    history = response.json()["history"]
    assert [e["kind"] for e in history] == ["booked", "rescheduled", "rescheduled"]
    # The move and the move back both name the outage, and both say "false alarm".
    assert [e["reason"] for e in history[1:]] == [FALSE_ALARM[language]] * 2
    assert all(e["outage"] is not None for e in history[1:])
    assert "Photo server down" not in response.content.decode()
    assert set(history[0]) == {"at", "kind", "from_starts_at", "to_starts_at", "outage", "reason"}


@pytest.mark.parametrize(
    ("language", "moved_back", "reported"),
    [
        ("en", "Moved back to your original time", "was reported down (false alarm)"),
        ("hi", "आपके मूल समय", "(गलत सूचना)"),
    ],
)
def test_applicant_page_says_false_alarm(undone, language, moved_back, reported):
    client = sign_in(Client(), undone.applicant)

    page = client.get("/my/bookings/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert moved_back in page
    assert reported in page
    assert "Photo server down" not in page and "फोटो सर्वर बंद" not in page


def test_admin_booking_page_and_history_say_false_alarm(undone, bhopal_client):
    change = bhopal_client.get(f"/admin/slots/booking/{undone.pk}/change/").content.decode()
    history = bhopal_client.get(f"/admin/slots/booking/{undone.pk}/history/").content.decode()

    # (The outage itself is still linked by its name, reason included.)
    for page in (change, history):
        assert "false alarm" in page
    assert "(Photo server down)" not in history
    assert ">Photo server down<" not in change
