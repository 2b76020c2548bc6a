"""A clerk marks a service down in a real browser and watches the progress bar reach done.

Debian's Chromium through Playwright (never `playwright install`), against pytest-django's
live server. The rescheduling task is held back while the clerk confirms, so the page opens
on "Queued" and only the page's own polling can show it finish: the test then runs the task
in-process, exactly what an eager Celery would have done, and waits for the bar.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from slots.models import Booking, Outage
from slots.services.reschedule import outage_reschedule
from tests.admin.conftest import DAY, fill_day, mark_down_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clerk_marks_service_down_and_sees_progress_reach_done(
    browser,
    live_server,
    http_cookies,
    screenshot_dir,
    clerk_bhopal,
    photo_bhopal,
    photo,
    monkeypatch,
):
    day = timezone.localdate() + 3 * DAY
    booked = fill_day(photo_bhopal, day, per_slot=2)
    held_back = []
    monkeypatch.setattr(
        "slots.services.outages.enqueue_on_commit",
        lambda task, outage_id: held_back.append(outage_id),
    )

    # wait_for_function evaluates a string: let the test (not the page) bypass the CSP.
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, bypass_csp=True)
    # Step 1: Bhopal (the clerk's only office) is ticked; times default to now and +4 h.
    mark_down_in_browser(page, live_server, clerk_bhopal, service=photo, day=day)
    assert page.is_checked("#id_offices input[type=checkbox]")
    page.click("input[name=_preview]")

    # Step 2: the preview, then confirm.
    page.wait_for_selector("#outage-preview")
    assert "MP-04" in page.inner_text("#outage-preview tbody")
    assert page.inner_text("#outage-preview tfoot").split()[1:4] == ["8", "8", "0"]
    page.screenshot(path=str(screenshot_dir / "admin_outage_preview.png"), full_page=True)
    page.click("input[name=_confirm]")

    page.wait_for_selector("#outage-progress-bar")
    assert page.inner_text("#progress-state") == "Queued"
    outage = Outage.objects.get()
    assert held_back == [outage.pk]

    outage_reschedule(outage_id=outage.pk)  # what the worker does; the page only polls

    page.wait_for_function(
        "document.getElementById('progress-state').textContent === 'Done'", timeout=15000
    )
    assert page.inner_text("#progress-moved") == "8"
    assert page.inner_text("#progress-affected") == "8"
    assert page.inner_text("#progress-notified") == "8"
    assert page.inner_text("#progress-percent") == "100%"
    assert page.eval_on_selector("#outage-progress-bar", "bar => [bar.value, bar.max]") == [8, 8]
    assert "Marked down: MP-04, Photo and biometrics" in page.inner_text("#outage-actions")
    page.screenshot(path=str(screenshot_dir / "admin_outage_progress.png"), full_page=True)

    moved = Booking.objects.filter(pk__in=[b.pk for b in booked]).select_related("slot")
    assert all(b.slot.starts_at >= outage.expected_end for b in moved)

    # The polling also revealed "undo": a false alarm puts everyone back.
    assert page.is_visible("#outage-undo")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#outage-undo")
    page.wait_for_selector(".messagelist .success")
    assert "8 moved back" in page.inner_text(".messagelist")
    back = dict(Booking.objects.filter(pk__in=[b.pk for b in booked]).values_list("pk", "slot_id"))
    assert back == {b.pk: b.slot_id for b in booked}

    # The day sheet of that day, as printed.
    page.goto(
        f"{live_server.url}/admin/slots/booking/day-sheet/"
        f"?office=MP-04&date={day}&service={photo.slug}"
    )
    assert page.inner_text("#day-sheet-totals").startswith("Booked: 8")
    page.emulate_media(media="print")
    assert not page.is_visible("#day-sheet-form")
    page.screenshot(path=str(screenshot_dir / "admin_day_sheet_print.png"), full_page=True)
