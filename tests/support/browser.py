"""Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright.

Playwright's own browser download is never used (`playwright install` is not run);
the system Chromium is launched through `executable_path`. Each page records
console errors and Content-Security-Policy violations so a test can assert none
happened, and `shoot` writes a screenshot into docs/screenshots/ when
COFFER_SCREENSHOTS=1 (scripts/screenshots sets it) and nowhere otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

CHROMIUM = os.environ.get("COFFER_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}


@dataclass
class PageProblems:
    """What the browser complained about while a test drove the page."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def csp_violations(self) -> list[str]:
        return [text for text in self.console_errors if "Content Security Policy" in text]


def launch() -> Iterator[Browser]:
    """The system Chromium, headless, for one test session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser: Browser, *, viewport: dict[str, int] = WIDE) -> BrowserContext:
    """A fresh profile (no storage shared between tests), English numbers, UTC clock."""
    context = browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        locale="en-US",
        timezone_id="UTC",
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    return context


def shoot(page: Page, name: str) -> None:
    """docs/screenshots/<name>.png at the page's viewport, when COFFER_SCREENSHOTS=1."""
    if os.environ.get("COFFER_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")
