"""/docs renders under its Content-Security-Policy in real Chromium, with no violation.

Playwright for Python drives the system Chromium (never a downloaded browser)
against the session app served over real HTTP on a free port.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser
from werkzeug.serving import make_server

# Runs before any page script; the policy does not apply to it. Every violation lands here.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture(scope="module")
def base_url(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser_page(browser: Browser, base_url: str) -> Iterator[tuple[Any, list[str]]]:
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(f"{base_url}/docs", wait_until="networkidle")
    yield page, console
    page.close()


def test_docs_renders_every_operation_under_the_policy_without_violations(
    browser_page: tuple[Any, list[str]],
) -> None:
    page, console = browser_page

    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    page.locator(".opblock-summary").first.click()  # expand one: more of the UI renders
    page.wait_for_selector(".opblock-body", timeout=10_000)

    assert "Coffer" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock").count() >= 30  # every operation of the document
    assert page.evaluate("window.__violations") == []
    assert [text for text in console if "Content Security Policy" in text] == []


def test_the_policy_is_enforced_so_the_check_above_can_fail(
    browser_page: tuple[Any, list[str]],
) -> None:
    page, _ = browser_page

    page.evaluate(
        """() => {
        const s = document.createElement('script');
        s.textContent = 'window.__ran = true';
        document.body.appendChild(s);
        const i = document.createElement('img');
        i.src = 'https://cdn.invalid/x.png';
        document.body.appendChild(i);
    }"""
    )
    page.wait_for_function("window.__violations.length >= 2", timeout=5_000)

    assert page.evaluate("window.__ran === undefined")  # the inline script did not run
    violated = " ".join(page.evaluate("window.__violations"))
    assert "script-src" in violated and "img-src" in violated
