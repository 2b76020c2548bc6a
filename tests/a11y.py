"""axe-core inside the Playwright tests: each page the tests visit is checked for accessibility
(WCAG 2.x A/AA rules and best practices) and photographed for a reviewer.

axe-core comes from the npm registry, pinned in package.json/package-lock.json and installed
by `make browser` (`npm ci`) into node_modules/ (git-ignored). It is evaluated in the page
through the DevTools protocol, which the page's Content-Security-Policy does not govern, so the
pages are checked exactly as they are served.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

AXE_JS = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
# What fails a page: axe's two worst impacts. "moderate" and "minor" are reported, not fatal.
FATAL_IMPACTS = {"serious", "critical"}


def axe_source() -> str:
    if not AXE_JS.exists():
        pytest.fail(
            f"axe-core is not installed ({AXE_JS} is missing), so the accessibility checks "
            "cannot run. Run `make browser` (it runs `npm ci` from package-lock.json), then run "
            "the tests again.",
            pytrace=False,
        )
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page) -> list[dict]:
    """The serious and critical violations axe-core finds on `page` as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "rule": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result["violations"]
        if violation["impact"] in FATAL_IMPACTS
    ]


# ARIA references to ids the page lacks: axe-core lets one pass when another id of the list
# exists, yet the missing one is a help text or an error nobody hears. (A hidden input is never
# read out, and Django gives one the attributes of the field it carries.)
DANGLING_ARIA = """() => [...document.querySelectorAll(
    ':is([aria-describedby], [aria-labelledby]):not(input[type=hidden])')]
  .flatMap(el => ['aria-describedby', 'aria-labelledby'].flatMap(name =>
    (el.getAttribute(name) || '').split(/\\s+/).filter(Boolean)
      .filter(id => !document.getElementById(id)).map(id => `${name}=${id}`)))"""


class PageTour:
    """Visits pages in one language: each `check(name)` saves tests/screenshots/<prefix>-<name>-
    <language>.png and records axe-core's serious/critical violations (and ARIA references to
    missing ids); `assert_accessible()`
    at the end fails with all of them at once, page by page."""

    def __init__(self, page, *, prefix: str, language: str, directory: Path):
        self.page, self.prefix, self.language, self.directory = page, prefix, language, directory
        self.found: dict[str, list[dict]] = {}
        self.names: list[str] = []

    def check(self, name: str) -> None:
        assert name not in self.names, f"two pages named {name!r}"
        self.names.append(name)
        self.page.wait_for_load_state()
        assert self.page.locator("html").get_attribute("lang") == self.language, name
        self.page.screenshot(
            path=str(self.directory / f"{self.prefix}-{name}-{self.language}.png"),
            full_page=True,
        )
        violations = axe_violations(self.page)
        if dangling := self.page.evaluate(DANGLING_ARIA):
            violations.append({"rule": "dangling-aria-reference", "nodes": dangling})
        if violations:
            self.found[f"{name} ({self.page.url})"] = violations

    def assert_accessible(self) -> None:
        assert not self.found, "axe-core found serious or critical violations:\n" + json.dumps(
            self.found, indent=1, ensure_ascii=False
        )
