"""The waiting list on a phone-sized screen, in English and in Hindi: no free day → join the
waiting list → a booking is cancelled → the offer's SMS link → accept (or decline, and the seat
goes to the next person waiting).

The offer is made as in production: the cancel's task runs after the commit (Celery is eager in
tests) and the SMS is read from the outbox as the phone shows it. Screenshots go to
tests/screenshots/waitlist-<language>-NN-<step>.png.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from slots.models import Booking, Slot
from slots.services.bookings import booking_cancel
from slots.services.waitlist import waitlist_join
from tests.conftest import PHONE
from tests.factories import ApplicantFactory, BookingFactory, SlotFactory, local_dt
from tests.sms_outbox import sms_sent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "hi": {
        "name": "सुनीता वर्मा",
        "no_free_seat": "कोई सीट खाली नहीं? प्रतीक्षा सूची में जुड़ें",
        "join": "प्रतीक्षा सूची में जुड़ें",
        "my_bookings": "मेरी बुकिंग",
        "my_waitlist": "मेरी प्रतीक्षा सूची",
        "position_1": "प्रतीक्षा सूची में आपका क्रमांक 1 है।",
        "offer_title": "आपके लिए एक सीट खाली है",
        "accept": "स्वीकार करें और यह सीट बुक करें",
        "decline": "नहीं, अगले व्यक्ति को दे दें",
        "confirmed_title": "आपकी बुकिंग पक्की हो गई है",
        "declined_title": "आपने इस सीट के लिए मना कर दिया",
        "other_locale": "en-IN",
    },
    "en": {
        "name": "Ramesh Kumar Sharma",
        "no_free_seat": "No free seat? Join the waiting list",
        "join": "Join the waiting list",
        "my_bookings": "My bookings",
        "my_waitlist": "My waiting list",
        "position_1": "You are number 1 in the waiting list.",
        "offer_title": "A seat is free for you",
        "accept": "Accept and book this seat",
        "decline": "No, give it to the next person",
        "confirmed_title": "Your booking is confirmed",
        "declined_title": "You said no to this seat",
        "other_locale": "hi-IN",
    },
}


def _day(days: int) -> date:
    return timezone.localdate() + timedelta(days=days)


@pytest.fixture
def full_calendar(bhopal_photo, settings, live_server):
    """Bhopal photo on days 3, 4 and 5: one seat a day, each taken by someone else. The SMS
    links point at the live server."""
    settings.SITE_URL = live_server.url
    bookings = []
    for days in (3, 4, 5):
        slot = SlotFactory(
            offering=bhopal_photo, starts_at=local_dt(_day(days), 10), capacity=1, booked=1
        )
        bookings.append(BookingFactory(slot=slot))
    return bookings


def _offer_link_sent_to(mobile: str) -> str:
    """The link in the newest waiting-list offer SMS to `mobile`, as the phone shows it."""
    offers = sorted(
        (m for m in sms_sent() if m["kind"] == "waitlist_offer" and m["to"] == mobile),
        key=lambda m: m["notification_id"],
    )
    assert offers, f"no offer SMS was sent to {mobile}"
    return re.search(r"https?://\S+", offers[-1]["text"]).group(0)


def _phone(browser, locale: str):
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale=locale
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


class Shots:
    def __init__(self, page, name: str, directory):
        self.page, self.name, self.directory, self.step = page, name, directory, 0

    def __call__(self, step: str) -> None:
        self.step += 1
        self.page.screenshot(
            path=str(self.directory / f"waitlist-{self.name}-{self.step:02d}-{step}.png"),
            full_page=True,
        )


def _sign_in(page, base_url: str, applicant) -> None:
    page.goto(base_url + "/signin/")
    page.fill("#id_application_number", applicant.application_number)
    page.fill("#id_date_of_birth", applicant.date_of_birth.isoformat())
    page.locator("main form button[type=submit]").first.click()


@pytest.mark.parametrize("language", ["en", "hi"])
def test_join_waiting_list_then_accept_the_offer_from_the_sms_on_a_phone(
    browser, live_server, http_cookies, full_calendar, screenshot_dir, language
):
    text = TEXT[language]
    applicant = ApplicantFactory(full_name=text["name"], preferred_language=language)
    context, page = _phone(browser, f"{language}-IN")
    shot = Shots(page, language, screenshot_dir)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    _sign_in(page, live_server.url, applicant)
    assert page.locator("h1").inner_text() == text["my_bookings"]
    assert page.locator("html").get_attribute("lang") == language

    # Book → office → service: every day is taken, so the page offers the waiting list.
    page.goto(live_server.url + "/book/")
    page.locator("a.choice").first.click()
    page.locator("a.choice").first.click()
    assert page.locator(".calendar .day.open a").count() == 0
    waitlist = page.locator("#waitlist")
    assert waitlist.get_by_role("heading").inner_text() == text["no_free_seat"]
    shot("no-free-day")
    page.fill("#waitlist-from", _day(3).isoformat())
    page.fill("#waitlist-to", _day(5).isoformat())
    waitlist.get_by_role("button", name=text["join"]).click()

    # My bookings: on the list, first in line.
    assert page.locator("h1").inner_text() == text["my_bookings"]
    section = page.locator("#waitlist")
    assert section.get_by_role("heading", name=text["my_waitlist"]).is_visible()
    assert section.locator(".waitlist-entry").count() == 1
    assert section.locator(".position").inner_text() == text["position_1"]
    assert page.locator(".messages").is_visible()
    shot("on-the-list")

    # Someone cancels the booking of day 4: the seat is offered, the SMS brings the link.
    booking_cancel(booking=full_calendar[1])
    link = _offer_link_sent_to(applicant.mobile)
    assert link.startswith(live_server.url + "/my/offers/")

    # The link opens on the phone's browser, set to the other language: the page speaks the
    # applicant's, as the SMS did.
    phone, offer_page = _phone(browser, text["other_locale"])
    offer_page.goto(link)
    assert offer_page.locator("html").get_attribute("lang") == language
    assert offer_page.locator("h1").inner_text() == text["offer_title"]
    assert offer_page.get_by_role("button", name=text["decline"]).is_visible()
    Shots(offer_page, language, screenshot_dir)("offer")
    offer_page.get_by_role("button", name=text["accept"]).click()
    assert offer_page.locator("h1").inner_text() == text["confirmed_title"]
    booking = Booking.objects.get(applicant=applicant, status=Booking.Status.CONFIRMED)
    assert booking.slot == full_calendar[1].slot
    assert booking.reference in offer_page.locator(".notice.ok").inner_text()
    assert not offer_page.get_by_role("button", name=text["accept"]).count()
    Shots(offer_page, language, screenshot_dir)("offer-accepted")
    assert offer_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.close()

    # My bookings: the new booking, and no open waiting-list entry any more.
    page.goto(live_server.url + "/my/bookings/")
    assert page.locator(f"#booking-{booking.reference}").is_visible()
    assert page.locator("#waitlist").count() == 0
    assert page.locator(".waitlist-entry").count() == 0
    shot("booked")
    slot = Slot.objects.get(pk=booking.slot_id)
    assert (slot.booked, slot.held_offers) == (1, 0)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not errors
    context.close()


def test_declined_offer_goes_to_the_next_applicant_waiting(
    browser, live_server, http_cookies, full_calendar, screenshot_dir
):
    first = ApplicantFactory(full_name=TEXT["hi"]["name"], preferred_language="hi")
    second = ApplicantFactory(full_name=TEXT["en"]["name"], preferred_language="en")
    for applicant in (first, second):
        waitlist_join(
            applicant=applicant,
            office=full_calendar[0].office,
            service=full_calendar[0].service,
            date_from=_day(3),
            date_to=_day(5),
        )
    booking_cancel(booking=full_calendar[0])
    assert not any(m["to"] == second.mobile for m in sms_sent() if m["kind"] == "waitlist_offer")
    first_link = _offer_link_sent_to(first.mobile)

    # The first in line says no.
    context, page = _phone(browser, "hi-IN")
    shot = Shots(page, "declined", screenshot_dir)
    page.goto(first_link)
    assert page.locator("h1").inner_text() == TEXT["hi"]["offer_title"]
    page.get_by_role("button", name=TEXT["hi"]["decline"]).click()
    assert page.locator("h1").inner_text() == TEXT["hi"]["declined_title"]
    shot("first-declined")

    # The next one's SMS link works, and accepting books the seat.
    second_link = _offer_link_sent_to(second.mobile)
    assert second_link != first_link
    other, second_page = _phone(browser, "en-IN")
    second_page.goto(second_link)
    assert second_page.locator("h1").inner_text() == TEXT["en"]["offer_title"]
    second_page.get_by_role("button", name=TEXT["en"]["accept"]).click()
    assert second_page.locator("h1").inner_text() == TEXT["en"]["confirmed_title"]
    Shots(second_page, "declined", screenshot_dir)("second-accepted")
    booking = Booking.objects.get(applicant=second, status=Booking.Status.CONFIRMED)
    assert booking.slot == full_calendar[0].slot
    other.close()

    # The first applicant's link now says the offer is no longer open: nothing to accept.
    page.goto(first_link)
    assert page.locator("h1").inner_text() == TEXT["hi"]["declined_title"]
    assert page.get_by_role("button", name=TEXT["hi"]["accept"]).count() == 0
    assert not Booking.objects.filter(applicant=first, status=Booking.Status.CONFIRMED).exists()
    shot("first-link-again")

    # The first applicant keeps a place in the list (for other seats), signed in.
    _sign_in(page, live_server.url, first)
    assert page.locator("#waitlist .waitlist-entry").count() == 1
    assert page.locator("#waitlist .position").inner_text() == TEXT["hi"]["position_1"]
    context.close()
