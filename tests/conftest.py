"""Personas and the catalogue most tests stand on (see STYLE.md, "Tests")."""

from __future__ import annotations

import shutil
from datetime import time, timedelta
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

from slots.models import Service
from tests.factories import (
    ApplicantFactory,
    OfferingFactory,
    OfficeFactory,
    ServiceFactory,
    SlotFactory,
    UserFactory,
    local_dt,
    next_monday,
)


def in_days(days: int, hour: int = 10, minute: int = 0):
    """A local (India) time `days` from today."""
    from django.utils import timezone

    return local_dt(timezone.localdate() + timedelta(days=days), hour, minute)


@pytest.fixture(autouse=True)
def _clean_cache():
    # Throttle counters, sign-in failures and task markers live in the cache (Redis): no test
    # may inherit another's.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _language_reset():
    # A request in Hindi leaves Hindi active in the thread: no test may inherit it.
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _sms_to_tmp(settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_DIR = str(tmp_path / "sms")


@pytest.fixture
def bhopal(db):
    return OfficeFactory(code="MP-04", name="RTO Bhopal", name_hi="आरटीओ भोपाल", district="Bhopal")


@pytest.fixture
def indore(db):
    return OfficeFactory(code="MP-09", name="RTO Indore", name_hi="आरटीओ इंदौर", district="Indore")


@pytest.fixture
def photo(db):
    return ServiceFactory(
        slug=Service.PHOTO_BIOMETRICS, name="Photo and biometrics", name_hi="फोटो और बायोमेट्रिक"
    )


@pytest.fixture
def driving(db):
    return ServiceFactory(slug=Service.DRIVING_TEST, name="Driving test", name_hi="ड्राइविंग टेस्ट")


@pytest.fixture
def learner(db):
    return ServiceFactory(
        slug=Service.LEARNER_TEST, name="Learner's licence test", name_hi="लर्नर लाइसेंस परीक्षा"
    )


@pytest.fixture
def bhopal_photo(bhopal, photo):
    return OfferingFactory(office=bhopal, service=photo)


@pytest.fixture
def bhopal_slot(bhopal_photo):
    return SlotFactory(offering=bhopal_photo, starts_at=in_days(3), capacity=2)


@pytest.fixture
def bhopal_slot_later(bhopal_photo):
    return SlotFactory(offering=bhopal_photo, starts_at=in_days(4), capacity=2)


@pytest.fixture
def indore_photo(indore, photo):
    return OfferingFactory(office=indore, service=photo)


@pytest.fixture
def applicant(db):
    return ApplicantFactory(full_name="Ramesh Kumar Sharma", preferred_language="en")


@pytest.fixture
def hindi_applicant(db):
    return ApplicantFactory(full_name="सुनीता वर्मा", preferred_language="hi")


@pytest.fixture
def other_applicant(db):
    return ApplicantFactory(full_name="Anita Verma")


@pytest.fixture
def clerk_bhopal(bhopal):
    user = UserFactory(username="clerk-bhopal")
    bhopal.clerks.add(user)
    return user


@pytest.fixture
def clerk_indore(indore):
    user = UserFactory(username="clerk-indore")
    indore.clerks.add(user)
    return user


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


# --- A real browser: Debian's Chromium through Playwright (tests/browser, tests/admin) -------
# The browser is the system package (`apt-get install -y chromium`), never one downloaded by
# `playwright install`. A machine without it fails these tests with a message saying so: a
# skipped browser test would let a broken page pass unnoticed.

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if not path:
        pytest.fail(
            "Chromium is not installed, so the browser tests cannot run. Install Debian's "
            "package with `apt-get install -y chromium fonts-noto-core` (the Makefile's test "
            "target does this), then run the tests again.",
            pytrace=False,
        )
    return path


@pytest.fixture
def browser(chromium_path, monkeypatch):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "The playwright package is missing: `pip install -r requirements-dev.txt`.",
            pytrace=False,
        )
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous code, so Django's async-safety guard is relaxed for them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # While the event loop runs, Django's per-thread connections live in a context of their
        # own: close them here, or the test database cannot be dropped at the end of the run.
        connections.close_all()


@pytest.fixture
def http_cookies(settings):
    # The live server speaks plain HTTP; production keeps its cookies Secure.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def photo_weekdays(bhopal_photo):
    """Bhopal photo open Monday to Friday 10:00–11:00: two 30-minute slots of 2 seats, no
    reserve, generated two weeks past the next Monday (tests.factories.next_monday)."""
    from slots.models import WeeklySession
    from slots.services.slot_generation import slots_generate

    for weekday in range(5):
        WeeklySession.objects.create(
            offering=bhopal_photo,
            weekday=weekday,
            start_time=time(10),
            end_time=time(11),
            slot_minutes=30,
            seats_per_slot=2,
            priority_reserve=0,
        )
    slots_generate(days=(next_monday() - timezone.localdate()).days + 14)
    return bhopal_photo


def bring_to_today(slot, minutes_ahead: int = 30):
    """Move `slot` (already booked, bookings need a lead time) to later today, so that its
    bookings can be checked in (CHECK_IN_EARLY_MINUTES before the time, on the day)."""
    from slots.models import Slot

    now = timezone.localtime()
    starts = now + timedelta(minutes=minutes_ahead)
    if starts.date() != now.date():
        # Late in the evening: keep it today, a few seconds apart per slot (two slots of one
        # offering may not start at the same time).
        starts = now.replace(hour=23, minute=59, second=0, microsecond=0) - timedelta(
            seconds=slot.pk % 60
        )
    Slot.objects.filter(pk=slot.pk).update(starts_at=starts, ends_at=starts + timedelta(minutes=30))
    slot.refresh_from_db()
    return slot
