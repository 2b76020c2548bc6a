"""The bookings admin's "No-shows" page: attended and missed appointments per service and week,
scoped to the clerk's offices like the other clerk pages, in Hindi too."""

from __future__ import annotations

import pytest
from django.urls import reverse

from slots.models import Booking
from tests.conftest import in_days
from tests.factories import BookingFactory, SlotFactory

pytestmark = pytest.mark.django_db
NO_SHOWS = reverse("admin:slots_booking_no_shows")
CHANGELIST = reverse("admin:slots_booking_changelist")


@pytest.fixture
def missed(bhopal_photo, indore_photo):
    """Bhopal photo: 1 no-show of 2 due; Indore photo: 3 no-shows of 3 due (3 days ago)."""
    bhopal_slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(-3, 10), capacity=5)
    BookingFactory(slot=bhopal_slot, status=Booking.Status.NO_SHOW)
    BookingFactory(slot=bhopal_slot, status=Booking.Status.ATTENDED)
    indore_slot = SlotFactory(offering=indore_photo, starts_at=in_days(-3, 11), capacity=5)
    for _ in range(3):
        BookingFactory(slot=indore_slot, status=Booking.Status.NO_SHOW)


def test_a_bhopal_clerk_sees_bhopal_no_shows_and_never_indores(bhopal_client, missed):
    response = bhopal_client.get(NO_SHOWS)
    assert response.status_code == 200
    html = response.content.decode()
    assert [table.office.code for table in response.context["tables"]] == ["MP-04"]
    assert 'data-office="MP-04"' in html and "1 of 2 (50 %)" in html
    assert "MP-09" not in html and "RTO Indore" not in html and "3 of 3" not in html
    assert html.count("—") >= 7  # the seven other weeks of the row
    assert 'class="table-scroll"' in html  # scrolls sideways on a phone


def test_an_indore_clerk_sees_only_indore(client, clerk_indore, missed):
    client.force_login(clerk_indore)
    html = client.get(NO_SHOWS).content.decode()
    assert 'data-office="MP-09"' in html and "3 of 3 (100 %)" in html
    assert "MP-04" not in html


def test_a_superuser_sees_every_office(root_client, missed):
    response = root_client.get(NO_SHOWS)
    assert [table.office.code for table in response.context["tables"]] == ["MP-04", "MP-09"]


def test_the_no_shows_page_in_hindi_names_services_in_hindi(bhopal_client, missed):
    bhopal_client.cookies["django_language"] = "hi"
    html = bhopal_client.get(NO_SHOWS, HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert "फोटो और बायोमेट्रिक" in html and "आरटीओ भोपाल" in html
    assert "Photo and biometrics" not in html
    assert "2 में से 1 (50 %)" in html
    assert "week of" not in html


def test_a_clerk_without_appointments_sees_that_there_are_none(bhopal_client, bhopal):
    html = bhopal_client.get(NO_SHOWS).content.decode()
    assert 'id="no-shows-empty"' in html


def test_the_bookings_list_links_to_the_no_shows_page(bhopal_client, bhopal):
    html = bhopal_client.get(CHANGELIST).content.decode()
    assert f'href="{NO_SHOWS}" id="no-shows-link"' in html
