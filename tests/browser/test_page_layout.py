"""Layout on a 390×844 phone: the slip's Print button appears only where its script can make
it work, and a long name without spaces wraps instead of widening the page."""

from __future__ import annotations

import pytest

from tests.conftest import PHONE
from tests.factories import ApplicantFactory, BookingFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A name as some applicants write it, and as a careless form keeps it: one word, 60 letters.
LONG_NAME = "Venkatasatyanarayanamurthy" + "Chakravartula" + "Subrahmanyeswararao" + "Gupta"


def _phone(browser, *, javascript: bool = True):
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, locale="en-IN", java_script_enabled=javascript
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


def _sign_in(page, url: str, applicant) -> None:
    page.goto(url + "/signin/")
    page.fill("#id_application_number", applicant.application_number)
    page.fill("#id_date_of_birth", applicant.date_of_birth.isoformat())
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()


@pytest.mark.parametrize("javascript", [False, True])
def test_slip_print_button_shows_only_with_javascript(
    browser, live_server, http_cookies, applicant, bhopal_slot, javascript
):
    booking = BookingFactory(applicant=applicant, slot=bhopal_slot)
    context, page = _phone(browser, javascript=javascript)
    _sign_in(page, live_server.url, applicant)
    page.goto(f"{live_server.url}/my/bookings/{booking.reference}/")
    assert page.locator("#reference").inner_text() == booking.reference
    assert page.locator("[data-print]").count() == 1
    assert page.locator("[data-print]").is_visible() is javascript
    context.close()


def test_a_long_name_without_spaces_wraps_on_a_phone(
    browser, live_server, http_cookies, bhopal_slot
):
    applicant = ApplicantFactory(full_name=LONG_NAME)
    booking = BookingFactory(applicant=applicant, slot=bhopal_slot)
    context, page = _phone(browser)
    _sign_in(page, live_server.url, applicant)
    for path in (
        "/welcome/",
        "/my/bookings/",
        "/my/details/",
        f"/my/bookings/{booking.reference}/",
    ):
        page.goto(live_server.url + path)
        assert LONG_NAME in page.locator("main").inner_text(), path
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    page.goto(live_server.url + "/welcome/")
    heading = page.locator("h1").bounding_box()
    assert heading["x"] + heading["width"] <= PHONE["width"]
    context.close()
