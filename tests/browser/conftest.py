"""Debian's Chromium driven by Playwright against pytest-django's live server.

The browser is the system package (`apt-get install -y chromium`), never one downloaded by
`playwright install`. A machine without it fails these tests with a message saying so: a
skipped browser test would let a broken page pass unnoticed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.db import connections

SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
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
