"""The office's call list (admin): bookings an outage left without a slot, whom to call —
on its own page and printed with the day sheet; scoped to the clerk's offices, in Hindi too."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from slots.models import Booking, BookingEvent, Outage
from tests.conftest import in_days
from tests.factories import (
    ApplicantFactory,
    BookingEventFactory,
    BookingFactory,
    NotificationFactory,
    SlotFactory,
)

pytestmark = pytest.mark.django_db
CALL_LIST = reverse("admin:slots_booking_call_list")
DAY_SHEET = reverse("admin:slots_booking_day_sheet")


@pytest.fixture
def stranded(bhopal, bhopal_photo):
    """One booking an outage found no seat for, and one that is fine."""
    outage = Outage.objects.create(
        starts_at=in_days(2, 0),
        expected_end=in_days(3, 0),
        reason="Camera broken",
        reason_hi="कैमरा खराब",
    )
    outage.offices.add(bhopal)
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(2, 10))
    applicant = ApplicantFactory(full_name="Kamla Devi", mobile="+919826011111")
    booking = BookingFactory(
        applicant=applicant, slot=slot, status=Booking.Status.NEEDS_NEW_SLOT, priority=True
    )
    BookingEventFactory(
        booking=booking, kind=BookingEvent.Kind.NEEDS_NEW_SLOT, outage=outage, at=timezone.now()
    )
    BookingFactory(slot=slot)  # confirmed: not on the list
    return booking


def test_the_call_list_shows_who_to_call_with_why(bhopal_client, stranded):
    html = bhopal_client.get(CALL_LIST).content.decode()  # the clerk's one office by default
    assert f'data-reference="{stranded.reference}"' in html
    assert html.count('class="call"') == 1
    assert "Kamla Devi" in html and "+919826011111" in html and "Camera broken" in html
    assert "data-print" in html  # the sheet can be printed


def test_the_day_sheet_prints_the_call_list_with_it(bhopal_client, stranded):
    day = timezone.localdate(stranded.slot.starts_at).isoformat()
    html = bhopal_client.get(
        DAY_SHEET, {"office": "MP-04", "service": "photo-biometrics", "date": day}
    ).content.decode()
    assert 'id="call-list"' in html and f'data-reference="{stranded.reference}"' in html


def test_the_call_list_is_scoped_to_the_clerks_offices(bhopal_client, indore, stranded):
    assert bhopal_client.get(CALL_LIST, {"office": "MP-09"}).status_code == 403
    assert bhopal_client.get(CALL_LIST, {"office": "MP-99"}).status_code == 404


def test_the_call_list_in_hindi(bhopal_client, stranded):
    bhopal_client.cookies.load({"django_language": "hi"})
    html = bhopal_client.get(CALL_LIST, HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert "कॉल सूची" in html and "कैमरा खराब" in html


def test_an_applicant_the_outage_sms_did_not_reach_is_on_the_call_list(
    bhopal_client, bhopal, bhopal_photo
):
    from notifications.models import Notification

    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(4, 10))
    no_email = BookingFactory(slot=slot, applicant=ApplicantFactory(email=""), priority=True)
    with_email = BookingFactory(slot=slot, priority=True)  # the e-mail fallback reaches them
    delivered = BookingFactory(slot=slot, applicant=ApplicantFactory(email=""), priority=True)
    for booking, report in (
        (no_email, "undelivered"),
        (with_email, "expired"),
        (delivered, "delivered"),
    ):
        NotificationFactory(
            booking=booking,
            kind=Notification.Kind.RESCHEDULED_OUTAGE,
            status=Notification.Status.SENT,
            delivery=report,
        )
    html = bhopal_client.get(CALL_LIST).content.decode()
    assert html.count('class="call"') == 1
    assert f'data-reference="{no_email.reference}"' in html
    assert "The SMS about the outage was not delivered" in html
