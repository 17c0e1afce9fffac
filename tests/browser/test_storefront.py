"""The example storefront (examples/storefront) in headless Chromium, against Coffer as it
runs in production: gunicorn and a Celery worker (tests/support/stack.py) on PostgreSQL and
Redis, the storefront's Flask backend on a real port, the page built by Vite, the hook from
@coffer/react. Nothing is mocked; one test drops a response on its way back to the page
(the request itself reaches the backend) to play a checkout whose connection failed.

Needs `examples/storefront/dist` (scripts/test builds it: npm ci && npm run build).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright
from werkzeug.serving import make_server

from core.db import Database
from core.migrate import upgrade
from tests.support.client import Api
from tests.support.services import fresh_database, private_redis_db
from tests.support.stack import Stack, free_port
from tests.support.tenants import make_tenant

STOREFRONT = Path(__file__).resolve().parents[2] / "examples" / "storefront"
sys.path.insert(0, str(STOREFRONT))
from storefront import create_app  # noqa: E402 - the example is a folder, not a package

CHROMIUM = os.environ.get("COFFER_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TOKEN_TTL_S = 60  # the shortest ttl Coffer issues (CONTRACT §10)
SHOP_PORT = free_port()
SHOP = f"http://127.0.0.1:{SHOP_PORT}"


@dataclass
class Scene:
    stack: Stack
    admin: Api
    server: Api
    rewards: dict[str, str]  # name -> id


@dataclass
class Traffic:
    """What one page asked for: storefront token requests and Coffer's answers to the hook."""

    token_requests: int = 0
    rewards_statuses: list[int] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def watch(self, page: Page, coffer_url: str) -> None:
        page.on("request", self._request)
        page.on("response", lambda r: self._response(r.url, r.status, r.request.method, coffer_url))
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))

    def _request(self, request: Any) -> None:
        if request.url.endswith("/api/tokens"):
            self.token_requests += 1

    def _response(self, url: str, status: int, method: str, coffer_url: str) -> None:
        if url.startswith(coffer_url) and url.endswith("/rewards") and method == "GET":
            self.rewards_statuses.append(status)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """Coffer allowing the storefront's origin only, and a catalog: one free gift, two paid."""
    with fresh_database("storefront") as url, private_redis_db() as redis_url:
        upgrade(url)
        db = Database(url, pool_size=2)
        stack = Stack(
            database_url=url,
            redis_url=redis_url,
            logs=tmp_path_factory.mktemp("storefront-stack"),
            cors_origins=SHOP,
        )
        try:
            stack.start_api()  # the worker starts later: see claims_worker
            tenant = make_tenant(db)
            admin = Api(stack.base_url, tenant.key("live", "admin"))
            server = Api(stack.base_url, tenant.key("live", "server"))
            with admin.session, server.session:  # closed after the module's last test
                yield Scene(stack, admin, server, seed(admin))
        finally:
            # Nothing to see at shutdown here: SIGKILL saves the ~9 s gunicorn takes on SIGTERM.
            if "api" in stack.processes:
                stack.kill("api", signal.SIGKILL)
            stack.stop()
            db.dispose()


def seed(admin: Api) -> dict[str, str]:
    free = admin.create_reward(
        name="Free Shipping", type="voucher", description="Free shipping on one order",
        code_generation={"prefix": "SHIP-", "length": 8},
    )  # fmt: skip
    coupon = admin.create_reward(
        name="10% Off Coupon", points_cost=500, description="10% off your next order",
        code_expiry_days=30,
    )  # fmt: skip
    admin.upload(coupon["id"], [f"SAVE10-{n:04d}" for n in range(1, 41)])
    tote = admin.create_reward(name="Canvas Tote Bag", type="physical", points_cost=1500)
    admin.upload(tote["id"], ["TOTE-0001", "TOTE-0002", "TOTE-0003"])
    return {"free": free["id"], "coupon": coupon["id"], "tote": tote["id"]}


def serve(app: Flask, port: int) -> Iterator[str]:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        app.extensions["coffer_gateway"].close()


def storefront_app(scene: Scene) -> Flask:
    if not (STOREFRONT / "dist" / "index.html").exists():
        pytest.fail("examples/storefront/dist is missing: run examples/storefront/build.sh")
    server_key = scene.server.session.headers["Authorization"].removeprefix("Bearer ")
    return create_app(
        {
            "COFFER_URL": scene.stack.base_url,
            "COFFER_SERVER_KEY": server_key,
            "TOKEN_TTL": TOKEN_TTL_S,
        }
    )


@pytest.fixture(scope="module")
def shop(scene: Scene) -> Iterator[str]:
    yield from serve(storefront_app(scene), SHOP_PORT)


@pytest.fixture(scope="module")
def foreign_shop(scene: Scene) -> Iterator[str]:
    """The same storefront on an origin Coffer's COFFER_CORS_ORIGINS does not list."""
    yield from serve(storefront_app(scene), free_port())


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


def new_context(browser: Browser) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-US")
    context.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)
    return context


def visit(browser: Browser, scene: Scene, shop: str, participant: str) -> tuple[Page, Traffic]:
    """A fresh profile signed in to the storefront as `participant`."""
    page = new_context(browser).new_page()
    traffic = Traffic()
    traffic.watch(page, scene.stack.base_url)
    page.goto(f"{shop}/?as={participant}")
    expect(page.get_by_role("heading", name="Coffer Demo Store")).to_be_visible()
    return page, traffic


def shoot(page: Page, name: str) -> None:
    """docs/screenshots/<name>.png when COFFER_SCREENSHOTS=1 (the README's pictures)."""
    if os.environ.get("COFFER_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def held(scene: Scene, participant: str) -> dict[str, Any]:
    response = scene.server.get(f"/participants/{participant}/rewards")
    assert response.status_code == 200, response.text
    return response.json()


def card(page: Page, name: str) -> Any:
    return page.get_by_role("article", name=name)


def new_participant(scene: Scene, points: int = 0) -> str:
    participant = f"shopper_{os.urandom(5).hex()}"
    if points:
        scene.admin.credit(participant, points)
    return participant


# The expiry test needs tokens older than their 60 s ttl. Its pages open first (this fixture
# is the first every test asks for) and age while the other tests run.
@dataclass
class Aging:
    opened_at: float
    frozen: tuple[Page, Traffic, str]  # the page's clock stands still: it sends the stale token
    ticking: tuple[Page, Traffic, str]  # a real clock: the hook renews before expires_at


@pytest.fixture(scope="module")
def aging(browser: Browser, scene: Scene, shop: str) -> Iterator[Aging]:
    pages = []
    for frozen in (True, False):
        participant = new_participant(scene)
        context = new_context(browser)
        page = context.new_page()
        if frozen:
            page.clock.set_fixed_time(datetime.now(UTC))
        traffic = Traffic()
        traffic.watch(page, scene.stack.base_url)
        page.goto(f"{shop}/?as={participant}")
        expect(page.get_by_text("No rewards claimed yet.")).to_be_visible()
        pages.append((page, traffic, participant))
    yield Aging(time.monotonic(), pages[0], pages[1])
    for page, _, _ in pages:
        page.context.close()


@pytest.fixture(scope="module")
def claims_worker(scene: Scene, aging: Aging) -> None:
    """The Celery worker that decides claims, started once the aging pages hold their tokens,
    so its ~10 s start runs inside their 60 s instead of before it."""
    scene.stack.start_worker(concurrency=1)


@pytest.fixture
def page_for(
    browser: Browser, scene: Scene, shop: str, aging: Aging, claims_worker: None
) -> Iterator[Any]:
    opened: list[Page] = []

    def make(participant: str) -> tuple[Page, Traffic]:
        page, traffic = visit(browser, scene, shop, participant)
        opened.append(page)
        return page, traffic

    yield make
    for page in opened:
        page.context.close()


def test_redeeming_shows_the_code_in_your_rewards_without_a_reload(
    scene: Scene, page_for: Any
) -> None:
    participant = new_participant(scene, points=1500)
    page, traffic = page_for(participant)
    expect(page.get_by_label("balance")).to_have_text("1500 points")
    expect(page.get_by_text("No rewards claimed yet.")).to_be_visible()
    shoot(page, "storefront-catalog")
    page.evaluate("window.sameDocument = true")  # gone if anything reloads the page

    coupon = card(page, "10% Off Coupon")
    coupon.get_by_role("button", name="Redeem for 500 points").click()
    expect(coupon.get_by_text("Spend 500 of your 1500 points on 10% Off Coupon?")).to_be_visible()
    assert held(scene, participant)["total_claimed"] == 0  # nothing moves before confirming
    coupon.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Your rewards (1)")).to_be_visible()
    code = held(scene, participant)["rewards"][0]["code_value"]
    assert code.startswith("SAVE10-")
    expect(page.locator("section[aria-label='Your rewards'] code")).to_have_text([code])
    expect(page.get_by_role("status")).to_contain_text(f"You got 10% Off Coupon: {code}")
    expect(page.get_by_label("balance")).to_have_text("1000 points")
    expect(coupon.get_by_text("Already claimed")).to_be_visible()
    assert page.evaluate("window.sameDocument") is True
    assert traffic.rewards_statuses == [200, 200]  # on load, then on reward:claimed; no polling
    shoot(page, "storefront-claimed")


def test_a_retried_order_replays_its_claim_and_hands_out_no_second_code(
    scene: Scene, page_for: Any
) -> None:
    participant = new_participant(scene, points=1500)
    page, _ = page_for(participant)
    sent: list[str] = []

    def lose_the_first_answer(route: Route) -> None:
        sent.append(route.request.url)
        if len(sent) == 1:
            route.fetch()  # the order reaches the backend and Coffer claims...
            route.abort("connectionreset")  # ...but the answer never reaches the page
        else:
            route.continue_()

    page.route("**/api/orders/*/redeem", lose_the_first_answer)
    coupon = card(page, "10% Off Coupon")
    coupon.get_by_role("button", name="Redeem for 500 points").click()
    coupon.get_by_role("button", name="Confirm").click()
    expect(coupon.get_by_text("The connection dropped before we heard back.")).to_be_visible()
    lost = held(scene, participant)
    assert lost["total_claimed"] == 1  # the claim was made; only its answer was lost

    coupon.get_by_role("button", name="Retry").click()

    expect(page.get_by_role("heading", name="Your rewards (1)")).to_be_visible()
    code = lost["rewards"][0]["code_value"]
    expect(page.get_by_role("status")).to_contain_text(code)
    assert len(sent) == 2 and sent[0] == sent[1]  # the same order id, so the same key
    after = held(scene, participant)
    assert [r["claim_id"] for r in after["rewards"]] == [lost["rewards"][0]["claim_id"]]
    assert scene.server.get(f"/participants/{participant}/points").json()["balance"] == 1000


def test_a_participant_short_of_points_sees_not_enough_points_on_paid_rewards_only(
    scene: Scene, page_for: Any
) -> None:
    participant = new_participant(scene, points=100)
    page, _ = page_for(participant)

    for name in ("10% Off Coupon", "Canvas Tote Bag"):
        expect(card(page, name).get_by_text("Not enough points")).to_be_visible()
        expect(card(page, name).get_by_role("button")).to_have_count(0)
    free = card(page, "Free Shipping")
    expect(free.get_by_text("Free gift")).to_be_visible()
    shoot(page, "storefront-short-of-points")
    free.get_by_role("button", name="Claim").click()

    expect(page.get_by_role("heading", name="Your rewards (1)")).to_be_visible()
    claims = held(scene, participant)["rewards"]
    assert [c["reward_id"] for c in claims] == [scene.rewards["free"]]
    expect(page.get_by_label("balance")).to_have_text("100 points")  # a gift costs nothing


def test_a_page_on_an_origin_coffer_does_not_allow_cannot_read_rewards(
    scene: Scene, browser: Browser, foreign_shop: str, aging: Aging, claims_worker: None
) -> None:
    participant = new_participant(scene)
    page, traffic = visit(browser, scene, foreign_shop, participant)
    try:
        expect(page.get_by_text("Could not load rewards.")).to_be_visible()
        expect(card(page, "Free Shipping")).to_be_visible()  # the shop's own calls still work
        assert traffic.token_requests == 1  # a token was issued; the browser withheld the answer
        assert any("CORS policy" in line for line in traffic.console_errors)
    finally:
        page.context.close()
    path = f"{scene.stack.base_url}/api/v1/gamify/participants/{participant}/rewards"
    for origin, allowed in ((foreign_shop, None), (SHOP, SHOP)):
        preflight = requests.options(
            path,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
            timeout=10,
        )
        assert preflight.headers.get("Access-Control-Allow-Origin") == allowed


@pytest.mark.slow
def test_an_expired_participant_token_is_renewed_through_the_backend(
    scene: Scene, aging: Aging, claims_worker: None
) -> None:
    """Both pages got a 60 s token when they opened. The page whose clock stands still
    sends it after it expired: Coffer says 401 and the hook renews it through getToken()
    and retries. The page with a real clock renews it before expires_at, with no 401."""
    time.sleep(max(0.0, aging.opened_at + TOKEN_TTL_S + 2 - time.monotonic()))

    for page, traffic, participant in (aging.frozen, aging.ticking):
        card(page, "Free Shipping").get_by_role("button", name="Claim").click()
        expect(page.get_by_role("heading", name="Your rewards (1)")).to_be_visible()
        code = held(scene, participant)["rewards"][0]["code_value"]
        expect(page.locator("section[aria-label='Your rewards'] code")).to_have_text([code])
        assert traffic.token_requests == 2
    assert aging.frozen[1].rewards_statuses == [200, 401, 200]
    assert aging.ticking[1].rewards_statuses == [200, 200]
