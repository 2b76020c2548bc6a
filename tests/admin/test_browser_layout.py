"""The clerk's outage pages as a clerk sees them on a 390×844 phone and on paper: the preview
fits the phone, the day sheet has a heading and a styled Print button that only shows where it
works, and it prints across an A4 page with room to sign."""

from __future__ import annotations

import pytest

from tests.admin.conftest import fill_day, mark_down_in_browser
from tests.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# An A4 page less the 12 mm margins of the day sheet's @page rule, in CSS pixels (96 per inch).
A4_PRINTABLE_WIDTH = round((210 - 2 * 12) / 25.4 * 96)


def test_outage_preview_fits_a_phone(
    browser, live_server, http_cookies, clerk_bhopal, photo_bhopal, photo, outage_day
):
    fill_day(photo_bhopal, outage_day, per_slot=2)
    page = browser.new_page(viewport=PHONE, is_mobile=True)
    mark_down_in_browser(page, live_server, clerk_bhopal, service=photo, day=outage_day)
    page.click("input[name=_preview]")
    page.wait_for_selector("#outage-preview")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = page.locator("#outage-preview").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    page.close()


def _day_sheet_url(live_server, day, service) -> str:
    return (
        f"{live_server.url}/admin/slots/booking/day-sheet/"
        f"?office=MP-04&date={day}&service={service.slug}"
    )


def test_day_sheet_has_a_heading_and_a_styled_print_button(
    browser, live_server, http_cookies, clerk_bhopal, photo_bhopal, photo, outage_day
):
    fill_day(photo_bhopal, outage_day, per_slot=2)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", clerk_bhopal.username)
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.goto(_day_sheet_url(live_server, outage_day, photo))
    assert page.locator("h1").count() == 1
    assert page.inner_text("h1") == "Day sheet"
    assert page.inner_text("#day-sheet .sheet-title").startswith("MP-04 RTO Bhopal")
    button = page.locator("[data-print]")
    assert button.is_visible()
    # Styled as the admin's buttons, not left as the browser's own grey one.
    background = "el => getComputedStyle(el).backgroundColor"
    plain = page.evaluate(
        "() => { const b = document.body.appendChild(document.createElement('button'));"
        " const colour = getComputedStyle(b).backgroundColor; b.remove(); return colour; }"
    )
    assert button.evaluate(background) != plain
    page.close()


def test_day_sheet_print_button_hidden_without_javascript(
    browser, live_server, http_cookies, clerk_bhopal, photo_bhopal, photo, outage_day
):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", clerk_bhopal.username)
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.goto(_day_sheet_url(live_server, outage_day, photo))
    assert page.locator("#day-sheet").is_visible()
    assert page.locator("[data-print]").count() == 1
    assert not page.locator("[data-print]").is_visible()
    context.close()


def test_day_sheet_prints_across_an_a4_page_with_room_to_sign(
    browser, live_server, http_cookies, clerk_bhopal, photo_bhopal, photo, outage_day
):
    fill_day(photo_bhopal, outage_day, per_slot=2)
    page = browser.new_page(viewport={"width": A4_PRINTABLE_WIDTH, "height": 1000})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", clerk_bhopal.username)
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.goto(_day_sheet_url(live_server, outage_day, photo))
    page.emulate_media(media="print")
    # Nothing wider than the page, so the browser has no reason to shrink the sheet to fit.
    assert page.evaluate("document.documentElement.scrollWidth") <= A4_PRINTABLE_WIDTH
    table = page.locator("#day-sheet table").first.bounding_box()
    assert table["width"] >= 0.95 * A4_PRINTABLE_WIDTH
    signature = page.locator("#day-sheet th.sign").bounding_box()
    assert signature["width"] >= 0.25 * table["width"]
    assert page.locator("#page-title").is_visible()
    assert not page.locator("[data-print]").is_visible()
    # Nor does the room the screen keeps for the admin's sidebar narrow it on a wider page.
    page.set_viewport_size({"width": 1100, "height": 1000})
    assert page.locator("#day-sheet table").first.bounding_box()["width"] >= 0.95 * 1100
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
    page.close()
