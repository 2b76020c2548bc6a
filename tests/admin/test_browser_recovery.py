"""A clerk previews an outage whose moved bookings would wait too long, sees the proposed extra
sessions, adds them with one click and confirms — in a real browser (Debian's Chromium through
Playwright, never a downloaded one), against pytest-django's live server, in English and Hindi."""

from __future__ import annotations

import pytest

from slots.models import Booking, ExtraSession, Outage
from tests.admin.conftest import DAY, local_dt, mark_down_in_browser
from tests.factories import fill_slots, next_monday

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("language", "proposed", "added"),
    [("en", "Longer hours", "1 extra session added"), ("hi", "अधिक समय तक", "अतिरिक्त सत्र जोड़ा")],
)
def test_clerk_adds_the_proposed_sessions_then_confirms(
    browser,
    live_server,
    http_cookies,
    screenshot_dir,
    clerk_bhopal,
    photo_weekdays,
    photo,
    language,
    proposed,
    added,
):
    monday = next_monday()
    moved = fill_slots(photo_weekdays, monday)
    for offset in (1, 2, 3):
        fill_slots(photo_weekdays, monday + offset * DAY)

    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale=language)
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    mark_down_in_browser(page, live_server, clerk_bhopal, service=photo, day=monday)
    page.click("input[name=_preview]")

    page.wait_for_selector("#proposed-sessions")
    assert page.is_visible("#recovery-late")
    row = page.inner_text("#proposed-sessions tbody")
    assert proposed in row and "11:00–13:00" in row and "MP-04" in row
    page.screenshot(
        path=str(screenshot_dir / f"admin_recovery_proposed_{language}.png"), full_page=True
    )
    page.click("#add-sessions")

    page.wait_for_selector("#recovery-on-time")
    assert added in page.inner_text("ul.messagelist")
    assert ExtraSession.objects.filter(offering=photo_weekdays, date=monday + DAY).count() == 1
    assert not page.is_visible("#add-sessions")
    page.click("input[name=_confirm]")

    page.wait_for_selector("#outage-progress-bar")
    outage = Outage.objects.get()
    assert outage.expected_end is not None
    page.close()
    # (The run happens in-process on commit here, eager Celery; the worker tests cover a real one.)
    moved_to = Booking.objects.filter(pk__in=[b.pk for b in moved]).select_related("slot")
    assert {b.slot.starts_at for b in moved_to} == {
        local_dt(monday + DAY, 11),
        local_dt(monday + DAY, 11, 30),
    }
