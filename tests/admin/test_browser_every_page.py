"""The admin pages a clerk uses for an outage — sign-in, *Mark a service down* (with its
errors), the preview, the outage's own page and the day sheet — in Hindi and in English:
axe-core finds no serious or critical accessibility problem, and each page is photographed as
tests/screenshots/admin-<page>-<language>.png (the day sheet also as printed). The rest of a
clerk's day (index, bookings, a booking, outages, call list, no-shows) is checked and
photographed the same way."""

from __future__ import annotations

import pytest

from slots.models import Booking, Outage
from tests.a11y import PageTour
from tests.admin.conftest import DAY, fill_day, mark_down_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("language", ["hi", "en"])
def test_clerk_outage_pages_are_accessible(
    browser,
    live_server,
    http_cookies,
    screenshot_dir,
    clerk_bhopal,
    photo_bhopal,
    photo,
    outage_day,
    language,
):
    fill_day(photo_bhopal, outage_day, per_slot=2)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=f"{language}-IN")
    page = context.new_page()
    page.set_default_timeout(15000)
    tour = PageTour(page, prefix="admin", language=language, directory=screenshot_dir)

    page.goto(f"{live_server.url}/admin/login/?next=/admin/slots/outage/add/")
    tour.check("login")
    mark_down_in_browser(page, live_server, clerk_bhopal, service=photo, day=outage_day)
    tour.check("mark-down")
    page.fill("#id_expected_end", f"{outage_day - DAY}T00:00")  # ends before it starts
    page.click("input[name=_preview]")
    page.wait_for_selector(".errornote")
    tour.check("mark-down-errors")
    page.fill("#id_expected_end", f"{outage_day + DAY}T00:00")
    page.click("input[name=_preview]")
    page.wait_for_selector("#outage-preview")
    tour.check("outage-preview")
    page.click("input[name=_confirm]")
    page.wait_for_selector("#outage-progress-bar")
    outage = Outage.objects.get()
    page.goto(f"{live_server.url}/admin/slots/outage/{outage.pk}/change/")
    tour.check("outage-change")
    page.goto(
        f"{live_server.url}/admin/slots/booking/day-sheet/"
        f"?office=MP-04&date={outage_day}&service={photo.slug}"
    )
    tour.check("day-sheet")
    page.emulate_media(media="print")
    page.screenshot(
        path=str(screenshot_dir / f"admin-day-sheet-print-{language}.png"), full_page=True
    )
    page.emulate_media(media="screen")

    # The rest of a clerk's day, photographed for a reviewer (and checked the same way).
    booking = Booking.objects.filter(slot__offering=photo_bhopal).first()
    for name, path, shows in (
        ("index", "/admin/", "#content-main"),
        ("bookings", "/admin/slots/booking/", "#result_list"),
        ("booking", f"/admin/slots/booking/{booking.pk}/change/", "#booking_form"),
        ("outages", "/admin/slots/outage/", "#result_list"),
        ("call-list", "/admin/slots/booking/call-list/?office=MP-04", "#call-list-form"),
        ("no-shows", "/admin/slots/booking/no-shows/", "#content-main"),
    ):
        page.goto(live_server.url + path)
        assert page.locator(shows).first.is_visible(), name
        tour.check(name)
    tour.assert_accessible()
    context.close()
