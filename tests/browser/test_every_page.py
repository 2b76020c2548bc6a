"""Every applicant page, in Hindi and in English, on a 390×844 phone: axe-core finds no
serious or critical accessibility problem on any of them, nothing is wider than the phone, and
each is photographed as tests/screenshots/applicant-<page>-<language>.png for a reviewer.

The pages are reached as an applicant reaches them (forms filled and sent in the browser);
what no click can produce in a test (a waiting-list offer, a reminder's signed links) is set up
with the services and the link helpers that production uses.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from slots.links import offer_path, one_tap_cancel_url, reminder_link_token
from slots.models import Booking, Offer, Slot
from slots.services.bookings import booking_create
from slots.services.waitlist import waitlist_join
from tests.a11y import PageTour
from tests.conftest import PHONE
from tests.factories import (
    ApplicantFactory,
    BookingFactory,
    OfferingFactory,
    SlotFactory,
    local_dt,
)
from tests.sms_outbox import wrong_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAMES = {"hi": "सुनीता वर्मा", "en": "Ramesh Kumar Sharma"}


def _day(days: int):
    return timezone.localdate() + timedelta(days=days)


@pytest.fixture
def calendar(bhopal_photo, driving, bhopal):
    """Bhopal photo on days 3–5 at 10:00, 10:30 and 11:00 (6 seats), 11:30 of day 3 full,
    and yesterday at 10:00; Bhopal driving tests at 10:00 on days 4 and 5."""
    slots = [
        SlotFactory(offering=bhopal_photo, starts_at=local_dt(_day(days), hour, minute), capacity=6)
        for days in (3, 4, 5)
        for hour, minute in ((10, 0), (10, 30), (11, 0))
    ]
    full = SlotFactory(
        offering=bhopal_photo, starts_at=local_dt(_day(3), 11, 30), capacity=1, booked=1
    )
    past = SlotFactory(offering=bhopal_photo, starts_at=local_dt(_day(-1), 10), capacity=6)
    driving_test = OfferingFactory(office=bhopal, service=driving)
    tests = [
        SlotFactory(offering=driving_test, starts_at=local_dt(_day(days), 10), capacity=2)
        for days in (4, 5)
    ]
    return slots, full, past, tests


def _submit(page) -> None:
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()


def _sign_in(page, url: str, applicant) -> None:
    page.goto(url + "/signin/")
    page.fill("#id_application_number", applicant.application_number)
    page.fill("#id_date_of_birth", applicant.date_of_birth.isoformat())
    _submit(page)


@pytest.mark.parametrize("language", ["hi", "en"])
def test_every_applicant_page_is_accessible_and_fits_a_phone(
    browser, live_server, http_cookies, calendar, screenshot_dir, settings, language
):
    settings.RECOVER_PER_MOBILE = 1
    slots, full, past, driving_tests = calendar
    url = live_server.url
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        locale=f"{language}-IN",
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    tour = PageTour(page, prefix="applicant", language=language, directory=screenshot_dir)
    too_wide: list[str] = []

    def check(name: str, shows: str) -> None:
        """`name` is the page on screen now: `shows` (a CSS selector) proves it is."""
        assert page.locator(shows).first.is_visible(), f"{name}: no {shows} on {page.url}"
        tour.check(name)
        if page.evaluate("document.documentElement.scrollWidth") > PHONE["width"]:
            too_wide.append(name)

    # Signed out.
    page.goto(url + "/")
    check("home", ".office.card")
    page.goto(url + "/book/")
    check("book-offices", "a.choice")
    page.goto(url + "/book/MP-04/")
    check("book-services", "a.choice")
    page.goto(url + "/book/MP-04/photo-biometrics/")
    check("book-days", ".calendar .day.open a")
    page.goto(f"{url}/book/MP-04/photo-biometrics/{_day(3)}/")
    check("book-times", "a.time")
    page.goto(f"{url}/book/MP-04/photo-biometrics/{_day(-1)}/")
    check("day-passed", "#passed")
    page.goto(url + "/signin/")
    check("signin", "#id_application_number")
    page.fill("#id_application_number", "2600000000")
    page.fill("#id_date_of_birth", "1990-01-01")
    _submit(page)
    check("signin-error", "#form-problems")
    page.goto(url + "/recover/")
    check("recover", "#id_mobile")
    _submit(page)
    check("recover-error", "#form-problems")
    page.fill("#id_mobile", "98260 55555")
    page.fill("#id_date_of_birth", "1990-01-01")
    _submit(page)
    check("recover-sent", "#recover-sent")
    page.goto(url + "/recover/")
    page.fill("#id_mobile", "98260 55555")
    page.fill("#id_date_of_birth", "1990-01-01")
    _submit(page)
    check("too-many-requests", "#too-many-requests")
    assert page.goto(url + "/book/XX-00/").status == 404
    check("not-found", ".actions .button")
    assert page.goto(url + "/book/?q=%00").status == 400
    check("bad-request", ".actions .button")
    page.goto(url + "/yes/not-a-token")
    check("link-invalid", ".notice.error")

    # Register: first with nothing filled in, then for real; the code the SMS brought.
    page.goto(url + "/register/")
    check("register", "#id_full_name")
    _submit(page)
    check("register-errors", "#id_full_name[aria-invalid=true]")
    page.fill("#id_full_name", NAMES[language])
    page.fill("#id_date_of_birth", "1995-06-15")
    page.fill("#id_mobile", "98260 12345")
    page.fill("#id_email", f"{language}@example.in")
    page.check(f"input[name=preferred_language][value={language}]")
    _submit(page)
    check("welcome", "#application-number")
    page.goto(f"{url}/book/slot/{slots[0].pk}/")
    check("verify-mobile", "#mobile-code")
    page.fill("#id_code", wrong_code("000000"))
    _submit(page)
    check("verify-mobile-error", "#id_code[aria-invalid=true]")
    page.locator(".site-nav button[type=submit]").click()
    page.wait_for_load_state()

    # Signed in with a booking: the booking pages, the reminder's pages, problems.
    applicant = ApplicantFactory(full_name=NAMES[language], preferred_language=language)
    booking = booking_create(applicant=applicant, slot_id=slots[0].pk)
    _sign_in(page, url, applicant)
    check("my-bookings", f"#booking-{booking.reference}")
    page.goto(url + "/my/details/")
    check("my-details", "main form.card")
    page.goto(f"{url}/my/bookings/{booking.reference}/")
    check("slip", "#reference")
    page.emulate_media(media="print")
    page.screenshot(
        path=str(screenshot_dir / f"applicant-slip-print-{language}.png"), full_page=True
    )
    page.emulate_media(media="screen")
    page.goto(f"{url}/my/bookings/{booking.reference}/reschedule/")
    check("reschedule-days", ".calendar .day.open a")
    page.goto(f"{url}/my/bookings/{booking.reference}/reschedule/{_day(4)}/")
    check("reschedule-times", "a.time")
    page.goto(f"{url}/my/bookings/{booking.reference}/reschedule/slot/{slots[4].pk}/")
    check("reschedule-confirm", "main form button.primary")
    page.goto(f"{url}/my/bookings/{booking.reference}/reschedule/slot/{full.pk}/")
    _submit(page)
    check("problem-slot-full", "[data-code=slot_full]")
    page.goto(f"{url}/book/slot/{slots[5].pk}/")
    check("book-confirm", "main form button.primary")
    _submit(page)
    check("problem-already-booked", "[data-code=already_booked]")
    page.goto(f"{url}/book/slot/{driving_tests[0].pk}/")
    check("confirm-learner-licence", "#learner-licence-needed")
    _submit(page)
    check("confirm-learner-licence-error", "#form-problems")
    page.goto(f"{url}/book/slot/{past.pk}/")
    check("time-passed", "#passed")
    page.goto(f"{url}/my/bookings/{booking.reference}/cancel/")
    check("cancel", "main form button.danger")
    page.goto(f"{url}/yes/{reminder_link_token(action='yes', reference=booking.reference)}")
    check("reminder-yes", "main form button.primary")
    page.goto(f"{url}/no/{reminder_link_token(action='no', reference=booking.reference)}")
    check("reminder-no", "main form button.danger")
    page.goto(one_tap_cancel_url(reference=booking.reference).replace(settings.SITE_URL, url))
    check("one-tap-cancel", "main form button.danger")

    # An outage left a driving test without a seat: the banner on My bookings.
    BookingFactory(
        applicant=applicant,
        slot=driving_tests[1],
        status=Booking.Status.NEEDS_NEW_SLOT,
        priority=True,
    )
    page.goto(url + "/my/bookings/")
    check("my-bookings-outage", ".notice.urgent")

    # The waiting list: its form, then a seat offered to someone waiting.
    page.goto(url + "/book/MP-04/driving-test/waitlist/")
    check("waitlist-join", "#waitlist-from")
    waiting = ApplicantFactory(preferred_language=language)
    Slot.objects.filter(pk__in=[s.pk for s in slots[1:]]).update(booked=6)
    entry = waitlist_join(
        applicant=waiting,
        office=slots[0].office,
        service=slots[0].service,
        date_from=_day(3),
        date_to=_day(5),
    )
    Slot.objects.filter(pk=slots[8].pk).update(booked=5)
    from slots.services.waitlist import offers_make

    offers_make(office_id=entry.office_id, service_id=entry.service_id)
    offer = Offer.objects.get(entry=entry)
    page.goto(url + offer_path(offer_id=offer.pk))
    check("waitlist-offer", "main form button.primary")

    tour.assert_accessible()
    assert not too_wide, f"wider than the phone: {too_wide}"
    context.close()
