"""One date and time format in both languages: pages, the admin, SMS and e-mail say the same
booking's time the same way — 24-hour, one spelling of each Hindi month (rto_booking.formats)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import dates, formats, translation

from notifications.dispatcher import notifications_dispatch
from notifications.models import Notification
from slots.errors import OutsideLicenceWindow
from slots.messages import messages_write_for_events
from slots.models import BookingEvent
from slots.rules import check_licence_window
from tests.admin.conftest import ensure_groups
from tests.applicants.conftest import sign_in
from tests.factories import (
    ApplicantFactory,
    BookingEventFactory,
    BookingFactory,
    OfferingFactory,
    SlotFactory,
    local_dt,
)
from tests.sms_outbox import sms_sent

pytestmark = pytest.mark.django_db

HINDI_MONTHS = [
    "जनवरी",
    "फ़रवरी",
    "मार्च",
    "अप्रैल",
    "मई",
    "जून",
    "जुलाई",
    "अगस्त",
    "सितंबर",
    "अक्टूबर",
    "नवंबर",
    "दिसंबर",
]
ENGLISH_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DAY = date(2027, 12, 4)  # a Saturday in December, the month Django's Hindi spells four ways
# What each surface must show, and what no surface may show for that time (the 12-hour clock,
# another spelling or abbreviation of the month).
DAY_MONTH = {"en": "4 December", "hi": "4 दिसंबर"}
# The form each surface gives the booking's time in: the day's page (day, then the time apart),
# a list with the year, a sentence of a message (no year: SMS length counts).
SHOWN = {
    "my bookings page": {"en": "Saturday 4 December", "hi": "शनिवार 4 दिसंबर"},
    "slip page": {"en": "Saturday 4 December", "hi": "शनिवार 4 दिसंबर"},
    "admin bookings list": {"en": "4 December 2027, 16:30", "hi": "4 दिसंबर 2027, 16:30"},
    "admin day sheet": {"en": "4 December 2027", "hi": "4 दिसंबर 2027"},
    "sms": {"en": "4 December 16:30", "hi": "4 दिसंबर 16:30"},
    "e-mail": {"en": "4 December 16:30", "hi": "4 दिसंबर 16:30"},
}
NEVER = {
    "en": re.compile(r"\bDec\b|Dec\.|\b4:30\b|p\.m\.|\bPM\b"),
    "hi": re.compile(r"दिसम्बर|दिसमबर|दिस(?!ंबर)|\b4:30\b|बजे"),
}


@pytest.mark.parametrize("language", ["hi", "en"])
def test_every_month_table_of_django_gives_one_spelling(language):
    with translation.override(language):
        for number in range(1, 13):
            spellings = {
                str(table[number])
                for table in (dates.MONTHS, dates.MONTHS_3, dates.MONTHS_AP, dates.MONTHS_ALT)
            }
            if language == "hi":
                assert spellings == {HINDI_MONTHS[number - 1]}, number
            shown = {
                formats.date_format(date(2027, number, 4), code).lower()
                for code in ("F", "E", "N", "M")
            }
            if language == "hi":
                assert shown == {HINDI_MONTHS[number - 1]}, (number, shown)


@pytest.mark.parametrize("language", ["hi", "en"])
def test_times_are_24_hour_in_both_languages(language):
    at = datetime(2027, 12, 4, 16, 46)
    with translation.override(language):
        assert formats.time_format(time(16, 46)) == "16:46"
        assert formats.localize(at).endswith("2027, 16:46")


@pytest.fixture
def clerk(clerk_bhopal):
    """The Bhopal clerk in the "Clerk" group, as the admin tests have them."""
    ensure_groups()
    clerk_bhopal.groups.add(Group.objects.get(name="Clerk"))
    return clerk_bhopal


@pytest.fixture
def booked(bhopal_photo):
    """One booking per language at 16:30 on DAY, its confirmation sent by SMS and e-mail."""
    slot = SlotFactory(offering=bhopal_photo, starts_at=local_dt(DAY, 16, 30))
    made = {}
    for language in ("hi", "en"):
        applicant = ApplicantFactory(preferred_language=language)
        booking = BookingFactory(applicant=applicant, slot=slot)
        event = BookingEvent.objects.select_related(
            "booking__applicant", "booking__office", "booking__service", "booking__slot"
        ).get(pk=BookingEventFactory(booking=booking).pk)
        messages_write_for_events(events=[event], kind=Notification.Kind.BOOKING_CONFIRMED)
        made[language] = booking
    notifications_dispatch()
    return made


def _surfaces(booking, language: str, clerk) -> dict[str, str]:
    applicant = booking.applicant
    page_client = sign_in(Client(HTTP_ACCEPT_LANGUAGE=language), applicant)
    admin_client = Client(HTTP_ACCEPT_LANGUAGE=language)
    admin_client.force_login(clerk)
    (sms,) = [m["text"] for m in sms_sent() if m["to"] == applicant.mobile]
    (email,) = [m for m in mail.outbox if applicant.email in m.to]
    day_sheet = reverse("admin:slots_booking_day_sheet")
    sheet_query = {"office": "MP-04", "date": str(DAY), "service": booking.service.slug}
    return {
        "my bookings page": page_client.get(reverse("applicants:my_bookings")),
        "slip page": page_client.get(reverse("applicants:booking_slip", args=[booking.reference])),
        "admin bookings list": admin_client.get(
            reverse("admin:slots_booking_changelist"), {"q": booking.reference}
        ),
        "admin day sheet": admin_client.get(day_sheet, sheet_query),
        "sms": sms,
        "e-mail": f"{email.subject}\n{email.body}\n{email.alternatives[0][0]}",
    }


@pytest.mark.parametrize("language", ["hi", "en"])
def test_pages_admin_sms_and_email_show_the_booking_time_in_the_one_format(booked, clerk, language):
    booking = booked[language]
    surfaces = _surfaces(booking, language, clerk)
    assert set(surfaces) == set(SHOWN)
    for name, surface in surfaces.items():
        if not isinstance(surface, str):
            assert surface.status_code == 200, name
            assert f'<html lang="{language}"' in surface.content.decode(), name
            surface = surface.content.decode()
        assert SHOWN[name][language] in surface, (name, surface)
        assert DAY_MONTH[language] in surface and "16:30" in surface, name
        found = NEVER[language].search(surface)
        assert found is None, (name, found and surface[found.start() - 40 : found.end() + 40])


@pytest.mark.parametrize(
    ("language", "issued"),
    [("en", "4 December 2027"), ("hi", "4 दिसंबर 2027")],
)
def test_the_licence_window_message_says_its_dates_in_the_one_format(
    bhopal, driving, language, issued
):
    slot = SlotFactory(
        offering=OfferingFactory(office=bhopal, service=driving),
        starts_at=local_dt(date(2027, 12, 10), 10),
    )
    applicant = ApplicantFactory(learner_licence_issued_on=date(2027, 12, 4))
    with translation.override(language), pytest.raises(OutsideLicenceWindow) as info:
        check_licence_window(applicant=applicant, slot=slot)
    message = str(info.value)
    assert issued in message and "2027-12-04" not in message, message


@pytest.mark.parametrize("language", ["hi", "en"])
def test_the_admin_date_and_time_pickers_use_the_one_format(clerk, language):
    """The admin's calendar and clock popups take their words from its JavaScript catalogue:
    the months as the pages spell them, the clock's shortcuts in 24-hour time."""
    admin_client = Client(HTTP_ACCEPT_LANGUAGE=language)
    admin_client.force_login(clerk)
    catalogue = admin_client.get(reverse("admin:jsi18n")).content.decode()
    assert f'"6 p.m.": {json.dumps("18:00")}' in catalogue
    assert f'"6 a.m.": {json.dumps("06:00")}' in catalogue
    if language == "hi":
        for english, hindi in zip(ENGLISH_MONTHS, HINDI_MONTHS, strict=True):
            assert f'"{english}": {json.dumps(hindi)}' in catalogue, english
