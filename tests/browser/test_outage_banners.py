"""The outage banners of "My bookings" on a phone (390×844), in Hindi and in English: a held
booking and a moved one, each saying what happened, why and what next, above the list.

Screenshots: tests/screenshots/<language>-banners.png.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from slots.models import Booking, BookingEvent, Outage, Service
from tests.conftest import PHONE, in_days
from tests.factories import (
    ApplicantFactory,
    BookingFactory,
    OfferingFactory,
    ServiceFactory,
    SlotFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAYS = {
    "hi": {
        "held": ["न आएँ: आपकी बुकिंग रोकी गई है", "अगली सूचना तक बंद है", "कारण: सारथी सर्वर बंद।"],
        "moved": ["आपकी बुकिंग का नया समय", "कारण: फोटो कैप्चर मशीन खराब।", "आपको पहले सेवा मिलेगी।"],
    },
    "en": {
        "held": [
            "Do not come: your booking is on hold",
            "is down until further notice",
            "Why: Sarathi server down.",
            "We will send your new time when the service is back.",
        ],
        "moved": [
            "Your booking has a new time",
            "Why: Photo-capture machine broken.",
            "You will be served first.",
        ],
    },
}


def _outage(*, office, service, reason, reason_hi, open_ended, at):
    outage = Outage.objects.create(
        reason=reason,
        reason_hi=reason_hi,
        starts_at=at - timedelta(hours=1),
        expected_end=None if open_ended else at + timedelta(hours=2),
    )
    outage.offices.add(office)
    outage.services.add(service)
    return outage


@pytest.mark.parametrize("language", ["hi", "en"])
def test_held_and_moved_banners_on_a_phone(
    browser, live_server, http_cookies, screenshot_dir, bhopal, photo, language
):
    applicant = ApplicantFactory(preferred_language=language)
    driving = ServiceFactory(slug=Service.DRIVING_TEST, name="Driving test", name_hi="ड्राइविंग टेस्ट")
    photo_slot = SlotFactory(
        offering=OfferingFactory(office=bhopal, service=photo), starts_at=in_days(1)
    )
    driving_offering = OfferingFactory(office=bhopal, service=driving)
    first = SlotFactory(offering=driving_offering, starts_at=in_days(2))
    later = SlotFactory(offering=driving_offering, starts_at=in_days(5))

    held = BookingFactory(applicant=applicant, slot=photo_slot, status=Booking.Status.ON_HOLD)
    server = _outage(
        office=bhopal,
        service=photo,
        reason="Sarathi server down",
        reason_hi="सारथी सर्वर बंद",
        open_ended=True,
        at=photo_slot.starts_at,
    )
    Booking.objects.filter(pk=held.pk).update(held_by=server, priority=True)
    BookingEvent.objects.create(
        booking=held,
        kind=BookingEvent.Kind.ON_HOLD,
        actor=BookingEvent.Actor.SYSTEM,
        from_slot=photo_slot,
        from_starts_at=photo_slot.starts_at,
        outage=server,
        reason=server.reason,
    )
    moved = BookingFactory(applicant=applicant, slot=later, priority=True)
    camera = _outage(
        office=bhopal,
        service=driving,
        reason="Photo-capture machine broken",
        reason_hi="फोटो कैप्चर मशीन खराब",
        open_ended=False,
        at=first.starts_at,
    )
    BookingEvent.objects.create(
        booking=moved,
        kind=BookingEvent.Kind.RESCHEDULED,
        actor=BookingEvent.Actor.SYSTEM,
        from_slot=first,
        to_slot=later,
        from_starts_at=first.starts_at,
        to_starts_at=later.starts_at,
        outage=camera,
        reason=camera.reason,
    )

    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="hi-IN" if language == "hi" else "en-IN",
        java_script_enabled=False,
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(live_server.url + "/signin/")
    page.fill("#id_application_number", applicant.application_number)
    page.fill("#id_date_of_birth", "1995-06-15")
    page.locator("main form button[type=submit]").first.click()
    page.goto(live_server.url + "/my/bookings/")

    held_banner = page.locator(f"#notice-{held.reference}")
    moved_banner = page.locator(f"#notice-{moved.reference}")
    for banner, kind in ((held_banner, "held"), (moved_banner, "moved")):
        assert banner.is_visible()
        text = banner.inner_text()
        for expected in SAYS[language][kind]:
            assert expected in text, (expected, text)
        box = banner.bounding_box()
        assert (
            box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        )  # no sideways scroll
    assert held_banner.get_attribute("role") == "alert"
    assert moved_banner.get_attribute("role") == "status"
    assert moved.reference in moved_banner.inner_text()
    # Above the list, held first; the page does not scroll sideways on the phone.
    assert held_banner.bounding_box()["y"] < moved_banner.bounding_box()["y"]
    assert (
        moved_banner.bounding_box()["y"]
        < page.locator(f"#booking-{held.reference}").bounding_box()["y"]
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(screenshot_dir / f"{language}-banners.png"), full_page=True)
    context.close()
