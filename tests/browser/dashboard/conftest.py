"""The dashboard in headless Chromium against the production stack: gunicorn, a Celery
worker and beat, PostgreSQL and Redis, as real processes (tests/support/stack.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from core.db import Database
from core.migrate import upgrade
from tests.support import browser as chromium
from tests.support.client import Api
from tests.support.services import fresh_database, private_redis_db
from tests.support.stack import Stack
from tests.support.tenants import TestTenant, make_tenant

WAIT_MS = 20_000


@pytest.fixture(scope="session")
def dash_db() -> Iterator[Database]:
    with fresh_database("dash") as url:
        upgrade(url)
        db = Database(url, pool_size=2)
        yield db
        db.dispose()


@pytest.fixture(scope="session")
def dash_stack(dash_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for every dashboard test. Webhooks may go to 127.0.0.1 (the test receiver)
    and a failing delivery gets one retry after 1 s, then is `failed`."""
    with private_redis_db() as redis_url:
        running = Stack(
            database_url=dash_db.url,
            redis_url=redis_url,
            logs=tmp_path_factory.mktemp("dashboard-stack"),
            sweep_interval_s="2",
            webhook_allow_private="1",
            webhook_retry_schedule="1",
        )
        try:
            running.start_api()
            running.start_worker()
            running.start_beat()
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    yield from chromium.launch()


@pytest.fixture
def tenant(dash_db: Database) -> TestTenant:
    return make_tenant(dash_db)


@pytest.fixture
def api(dash_stack: Stack, tenant: TestTenant) -> Api:
    """The tenant's live admin key, for setting the scene and checking outcomes."""
    return Api(dash_stack.base_url, tenant.key("live", "admin"), tenant.id)


@pytest.fixture
def problems() -> chromium.PageProblems:
    return chromium.PageProblems()


@pytest.fixture
def page(browser: Browser, problems: chromium.PageProblems) -> Iterator[Page]:
    """A 1280-wide page in a fresh profile; fails the test on a script error or a CSP
    violation."""
    context = chromium.new_context(browser)
    opened = context.new_page()
    problems.attach(opened)
    yield opened
    context.close()
    assert problems.page_errors == [], problems.page_errors
    assert problems.csp_violations() == [], problems.csp_violations()


def sign_in(page: Page, stack: Stack, key: str) -> None:
    """Open /admin, enter the key, and wait for the dashboard's navigation."""
    page.goto(f"{stack.base_url}/admin")
    page.get_by_label("Admin key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Dashboard")).to_be_visible()


@pytest.fixture
def signed_in(page: Page, dash_stack: Stack, tenant: TestTenant) -> Page:
    sign_in(page, dash_stack, tenant.key("live", "admin"))
    return page
