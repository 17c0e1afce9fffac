"""Signing in: an admin key opens the dashboard and stays in the tab's session storage
only; a server key and an unknown key are refused with words, not raw JSON."""

from __future__ import annotations

import redis
import requests
from playwright.sync_api import Browser, Page, expect

from core.db import Database
from core.tenants import issue_key, revoke_key
from tests.browser.dashboard.conftest import sign_in
from tests.support import browser as chromium
from tests.support.stack import Stack
from tests.support.tenants import TestTenant


def test_admin_key_signs_in_and_is_kept_in_the_session_only(
    page: Page, dash_stack: Stack, tenant: TestTenant
) -> None:
    key = tenant.key("live", "admin")
    sign_in(page, dash_stack, key)
    expect(page.get_by_role("heading", name="Catalog", level=1)).to_be_visible()
    expect(page.get_by_text("Live mode")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('coffer.admin-key')") == key
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    page.reload()  # the same tab keeps the session
    expect(page.get_by_role("heading", name="Catalog", level=1)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Admin key")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_server_key_is_refused_with_a_clear_message(
    page: Page, dash_stack: Stack, tenant: TestTenant
) -> None:
    page.goto(f"{dash_stack.base_url}/admin")
    page.get_by_label("Admin key").fill(tenant.key("live", "server"))
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("This is a server key")
    expect(alert).to_contain_text("needs an admin key")
    expect(page.get_by_label("Admin key")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("sessionStorage.length") == 0
    chromium.shoot(page, "sign-in")


def test_an_unknown_key_shows_the_problem_detail(page: Page, dash_stack: Stack) -> None:
    page.goto(f"{dash_stack.base_url}/admin")
    page.get_by_label("Admin key").fill("ck_live_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    assert "{" not in alert.inner_text()  # the detail in words, never the raw problem
    assert page.evaluate("sessionStorage.length") == 0


def test_admin_is_served_under_a_strict_csp_with_every_file_from_this_origin(
    page: Page, dash_stack: Stack
) -> None:
    answer = requests.get(f"{dash_stack.base_url}/admin", timeout=10)
    assert answer.status_code == 200
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in answer.text and "style=" not in answer.text
    for missing in ("nope.js", "..%2fadmin.py", "index.html"):
        asset = requests.get(f"{dash_stack.base_url}/admin/assets/{missing}", timeout=10)
        assert asset.status_code == 404, missing
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{dash_stack.base_url}/admin")
    expect(page.get_by_label("Admin key")).to_be_visible()
    assert requested and all(url.startswith(dash_stack.base_url) for url in requested)


def test_every_page_fits_a_390_pixel_screen(
    browser: Browser, dash_stack: Stack, tenant: TestTenant
) -> None:
    context = chromium.new_context(browser, viewport=chromium.NARROW)
    page = context.new_page()
    try:
        sign_in(page, dash_stack, tenant.key("live", "admin"))
        for slug, heading in [
            ("catalog", "Catalog"), ("participant", "Participant"), ("campaigns", "Campaigns"),
            ("webhooks", "Webhooks"), ("events", "Events"),
        ]:  # fmt: skip
            page.goto(f"{dash_stack.base_url}/admin#/{slug}")
            expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
            page.wait_for_load_state("networkidle")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{slug} is {width} px wide at 390"
    finally:
        context.close()


def test_a_revoked_key_signs_the_tab_out_and_says_why(
    page: Page, dash_stack: Stack, dash_db: Database, tenant: TestTenant
) -> None:
    with dash_db.transaction() as session:
        issued = issue_key(session, tenant_id=tenant.id, mode="test", scope="admin")
    sign_in(page, dash_stack, issued.key)
    expect(page.get_by_text("Test mode")).to_be_visible()
    # The catalog's own requests must be answered first: one still in flight at the
    # revocation would sign the tab out before the click below (also correct, but then
    # there is no link to click).
    expect(page.locator("#main .count")).to_be_visible()
    page.wait_for_load_state("networkidle")
    # As `coffer keys revoke` does: announced in the stack's Redis after the commit.
    with (
        redis.Redis.from_url(dash_stack.env["COFFER_REDIS_URL"]) as client,
        dash_db.transaction() as session,
    ):
        revoke_key(session, prefix=issued.prefix, redis=client)
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_label("Admin key")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Signed out:")
    assert page.evaluate("sessionStorage.length") == 0


def test_the_dashboard_works_from_the_keyboard_alone(
    page: Page, dash_stack: Stack, tenant: TestTenant
) -> None:
    page.goto(f"{dash_stack.base_url}/admin")
    expect(page.get_by_label("Admin key")).to_be_focused()  # focus starts in the key field
    page.keyboard.type(tenant.key("live", "admin"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Catalog", level=1)).to_be_visible()
    # Focus lands on the page's content (not the body), so Tab goes on from there.
    expect(page.get_by_role("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="New reward")).to_be_focused()
    for _ in range(6):  # back through the header: Sign out, Events, ... Participant
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.textContent") == "Participant":
            break
    expect(page.get_by_role("link", name="Participant")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Participant", level=1)).to_be_visible()
    expect(page.get_by_role("main")).to_be_focused()  # a new page starts at its content
    page.keyboard.press("Shift+Tab")  # the header's last control
    expect(page.get_by_role("button", name="Sign out")).to_be_focused()
    for _ in range(6):  # the five page links, then the skip link
        page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.get_by_label("Participant id").focus()
    page.keyboard.type("kim")
    page.keyboard.press("Enter")
    expect(page.locator(".balance")).to_have_text("0")
    page.get_by_label("Points", exact=True).focus()
    page.keyboard.type("40")
    page.keyboard.press("Enter")  # submits the credit form
    expect(page.locator(".balance")).to_have_text("40")
    # Every control on the page has an accessible name.
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter((el) => !el.labels?.length && !el.getAttribute('aria-label')
                    && !el.textContent.trim()).map((el) => el.outerHTML)"""
    )
    assert unnamed == []
