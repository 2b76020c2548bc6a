"""An applicant's whole journey on a phone-sized screen, in Hindi and in English:
register → sign out → sign in → book → slip (QR, .ics) → reschedule → cancel.

Screenshots of every step go to tests/screenshots/<language>-NN-<step>.png.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from icalendar import Calendar

from applicants.models import Applicant
from slots.models import Booking
from tests.conftest import PHONE
from tests.factories import SlotFactory, local_dt
from tests.sms_outbox import code_sent_to, wrong_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "hi": {
        "switch_to": None,
        "register": "पंजीकरण",
        "sign_out": "साइन आउट",
        "sign_in": "साइन इन",
        "book": "बुक करें",
        "confirm_title": "अपनी बुकिंग की पुष्टि करें",
        "booked": "बुकिंग हो गई।",
        "moved_by_me": "आपने इसे",
        "cancel_title": "यह बुकिंग रद्द करें?",
        "cancelled": "रद्द",
        "my_bookings": "मेरी बुकिंग",
        "name": "सुनीता वर्मा",
    },
    "en": {
        "switch_to": "English",
        "register": "Register",
        "sign_out": "Sign out",
        "sign_in": "Sign in",
        "book": "Book",
        "confirm_title": "Confirm your booking",
        "booked": "Booked. Your reference is",
        "moved_by_me": "You moved it from",
        "cancel_title": "Cancel this booking?",
        "cancelled": "Cancelled",
        "my_bookings": "My bookings",
        "name": "Ramesh Kumar Sharma",
    },
}


@pytest.fixture
def bookable(bhopal_photo, bhopal, photo):
    from django.utils import timezone

    today = timezone.localdate()
    for days in (3, 4, 5):
        for hour, minute in ((10, 0), (10, 30), (11, 0)):
            SlotFactory(
                offering=bhopal_photo,
                starts_at=local_dt(date.fromordinal(today.toordinal() + days), hour, minute),
                capacity=6,
            )
    return bhopal_photo


class Journey:
    def __init__(self, page, language: str, directory):
        self.page = page
        self.language = language
        self.directory = directory
        self.step = 0

    def shot(self, name: str) -> None:
        self.step += 1
        self.page.screenshot(
            path=str(self.directory / f"{self.language}-{self.step:02d}-{name}.png"),
            full_page=True,
        )

    def nav(self, text: str) -> None:
        self.page.locator(".site-nav").get_by_role("link", name=text, exact=True).click()

    def submit(self) -> None:
        self.page.locator("main form button[type=submit]").first.click()


@pytest.mark.parametrize("language", ["hi", "en"])
def test_register_sign_in_book_reschedule_cancel_on_a_phone(
    browser, live_server, http_cookies, bookable, screenshot_dir, language
):
    text = TEXT[language]
    # The browser asks for Hindi; the English run then overrides it with the switcher.
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="hi-IN",
        accept_downloads=True,
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    journey = Journey(page, language, screenshot_dir)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "hi"
    if text["switch_to"]:
        page.locator("form.lang button", has_text=text["switch_to"]).click()
        page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == language
    # Keyboard first: the first Tab lands on the skip link.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    journey.shot("home")

    # Register.
    journey.nav(text["register"])
    page.fill("#id_full_name", text["name"])
    page.fill("#id_date_of_birth", "1995-06-15")
    page.fill("#id_mobile", "98260 12345")
    page.fill("#id_email", f"{language}@example.in")
    page.check(f"input[name=preferred_language][value={language}]")
    journey.shot("register")
    journey.submit()
    number = page.locator("#application-number").inner_text().strip()
    assert re.fullmatch(r"\d{10}", number)
    assert Applicant.objects.get(application_number=number).preferred_language == language
    journey.shot("welcome")

    # Sign out, then sign in with the number and date of birth.
    page.locator(".site-nav button", has_text=text["sign_out"]).click()
    journey.nav(text["sign_in"])
    page.fill("#id_application_number", number)
    page.fill("#id_date_of_birth", "1995-06-16")
    journey.submit()
    assert page.locator(".notice.error").is_visible()
    assert page.locator("#id_application_number").input_value() == number
    journey.shot("signin-error")
    page.fill("#id_date_of_birth", "1995-06-15")
    journey.submit()
    assert page.locator("h1").inner_text() == text["my_bookings"]

    # Book: office → service → day → time → confirm.
    journey.nav(text["book"])
    journey.shot("offices")
    page.locator("a.choice").first.click()
    page.locator("a.choice").first.click()
    assert page.locator(".calendar .day.open a").count() == 3
    journey.shot("days")
    page.locator(".calendar .day.open a").first.click()
    journey.shot("times")
    page.locator("a.time").first.click()
    # The first booking asks for the code the SMS brought at registration, then comes back.
    assert page.locator("#id_code").is_visible()
    assert "+91 98xxxxxx45" in page.locator("main").inner_text()
    journey.shot("verify-mobile")
    code = code_sent_to("+919826012345")  # from the SMS outbox, as the phone shows it
    page.fill("#id_code", wrong_code(code))
    journey.submit()
    assert page.locator("#id_code").get_attribute("aria-invalid") == "true"
    page.fill("#id_code", code)
    journey.submit()
    assert page.locator("h1").inner_text() == text["confirm_title"]
    journey.shot("confirm")
    journey.submit()

    # The slip: big reference, QR code, calendar file.
    assert text["booked"] in page.locator(".messages").inner_text()
    reference = page.locator("#reference").inner_text().strip()
    booking = Booking.objects.get(reference=reference)
    assert booking.applicant.application_number == number
    qr = page.locator("svg.qr")
    assert qr.is_visible()
    box = qr.bounding_box()
    assert box["width"] >= 120 and box["x"] + box["width"] <= PHONE["width"]
    assert page.locator("[data-print]").is_visible()  # shown by the little script
    journey.shot("slip")
    with page.expect_download() as download_info:
        page.locator("a[href$='calendar.ics']").click()
    ics = Path(download_info.value.path()).read_bytes()
    event = Calendar.from_ical(ics).walk("VEVENT")[0]
    assert event["uid"].startswith(reference)
    assert event.decoded("dtstart") == booking.slot.starts_at
    page.emulate_media(media="print")
    journey.shot("slip-print")
    assert not page.locator(".site-header").is_visible()
    page.emulate_media(media="screen")

    # Reschedule to another time.
    page.locator("a[href$='/reschedule/']").first.click()
    journey.shot("reschedule-days")
    page.locator(".calendar .day.open a").last.click()
    page.locator("a.time").last.click()
    journey.submit()
    booking.refresh_from_db()
    assert booking.self_reschedules == 1
    assert text["moved_by_me"] in page.locator(".history").inner_text()
    journey.shot("rescheduled")

    # Cancel, after the confirmation page.
    page.locator("a[href$='/cancel/']").first.click()
    assert page.locator("h1").inner_text() == text["cancel_title"]
    journey.shot("cancel")
    page.locator("main form button[type=submit]").click()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert text["cancelled"] in page.locator(f"#booking-{reference} .badge").first.inner_text()
    journey.shot("my-bookings")

    # Nothing on any page overflowed the phone's width, and no script failed.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not errors
    context.close()


def test_outage_move_needs_new_slot_and_full_slot_pages_on_a_phone(
    browser, live_server, http_cookies, bookable, screenshot_dir, hindi_applicant, bhopal, photo
):
    from datetime import timedelta

    from slots.models import BookingEvent, Outage, Service, Slot
    from tests.factories import BookingFactory, OfferingFactory, ServiceFactory

    slots = list(Slot.objects.order_by("starts_at"))
    moved = BookingFactory(applicant=hindi_applicant, slot=slots[3], priority=True)
    outage = Outage.objects.create(
        reason="Photo-capture server down",
        reason_hi="फोटो कैप्चर सर्वर बंद",
        starts_at=slots[0].starts_at - timedelta(hours=1),
        expected_end=slots[0].ends_at,
        resolved_at=slots[0].ends_at,
    )
    outage.offices.add(bhopal)
    outage.services.add(photo)
    BookingEvent.objects.create(
        booking=moved,
        kind=BookingEvent.Kind.RESCHEDULED,
        actor=BookingEvent.Actor.SYSTEM,
        from_slot=slots[0],
        to_slot=slots[3],
        from_starts_at=slots[0].starts_at,
        to_starts_at=slots[3].starts_at,
        outage=outage,
        reason=outage.reason,
    )
    driving = ServiceFactory(slug=Service.DRIVING_TEST, name="Driving test", name_hi="ड्राइविंग टेस्ट")
    driving_slot = SlotFactory(
        offering=OfferingFactory(office=bhopal, service=driving), starts_at=slots[1].starts_at
    )
    BookingFactory(
        applicant=hindi_applicant,
        slot=driving_slot,
        status=Booking.Status.NEEDS_NEW_SLOT,
        priority=True,
    )
    Slot.objects.filter(pk=slots[2].pk).update(booked=slots[2].capacity)

    context = browser.new_context(viewport=PHONE, device_scale_factor=2, locale="hi-IN")
    page = context.new_page()
    page.set_default_timeout(15000)
    journey = Journey(page, "hi-outage", screenshot_dir)
    page.goto(live_server.url + "/signin/")
    page.fill("#id_application_number", hindi_applicant.application_number)
    page.fill("#id_date_of_birth", "1995-06-15")
    journey.submit()
    page.locator(f"#booking-{moved.reference} summary").click()  # opens the history
    history = page.locator(f"#booking-{moved.reference} .history").inner_text()
    assert "फोटो कैप्चर सर्वर बंद" in history and "बदला गया" in history
    assert page.locator(".notice.urgent").count() == 1
    journey.shot("my-bookings")

    # Booking the same service again points to the booking she has.
    page.goto(f"{live_server.url}/book/slot/{slots[4].pk}/")
    page.locator("main form button[type=submit]").click()
    assert page.locator(".notice.error").get_attribute("data-code") == "already_booked"
    assert page.locator(f"main a[href$='/my/bookings/{moved.reference}/']").is_visible()
    journey.shot("already-booked")

    # Moving into a time that filled up a moment ago offers the next free times.
    page.goto(f"{live_server.url}/my/bookings/{moved.reference}/reschedule/slot/{slots[2].pk}/")
    page.locator("main form button[type=submit]").click()
    assert page.locator(".notice.error").get_attribute("data-code") == "slot_full"
    assert page.locator("a.time").count() >= 3
    journey.shot("slot-full")
    context.close()
