"""Webhooks and events: register an endpoint (secret shown once), watch a failing
endpoint's delivery fail with its attempts, retry it from the page and see it delivered;
rotate the secret, disable and enable; the events page lists the facts by type."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support import browser as chromium
from tests.support.client import Api
from tests.support.receiver import Answer, Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def wait_for_delivery(api: Api, endpoint_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        deliveries = api.get(f"/webhook-endpoints/{endpoint_id}/deliveries").json()["deliveries"]
        if deliveries and deliveries[0]["status"] == status:
            return deliveries[0]
        time.sleep(0.3)
    raise AssertionError(f"no {status} delivery in time: {deliveries}")


def test_a_failing_endpoints_delivery_is_retried_from_the_page(
    signed_in: Page, api: Api, receiver: Receiver
) -> None:
    page = signed_in
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_text("No webhook endpoints yet")).to_be_visible()
    page.get_by_role("button", name="Add endpoint").click()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description (optional)").fill("Fulfillment team")
    page.get_by_label("Every event type").uncheck()
    page.get_by_label("reward.reward_claimed").check()
    page.locator("form").get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_text("Copy this signing secret now")).to_be_visible()
    secret = page.locator(".secret-value").inner_text()
    assert secret.startswith("whsec_")
    receiver.secrets.append(secret)
    [endpoint] = api.get("/webhook-endpoints").json()["webhook_endpoints"]
    assert "secret" not in endpoint and endpoint["url"] == receiver.url
    assert endpoint["event_types"] == ["reward.reward_claimed"]

    receiver.answer(Answer(500), Answer(500))  # the first attempt and its one retry fail
    reward = api.create_reward(name="Hook Prize")
    api.upload(reward["id"], ["HOOK-1", "HOOK-2"])
    assert api.claim(reward["id"], "dana").status_code == 201
    failed = wait_for_delivery(api, endpoint["id"], "failed")
    assert [attempt["status_code"] for attempt in failed["attempts"]] == [500, 500]

    card = page.locator(f'article[data-endpoint-id="{endpoint["id"]}"]')
    card.get_by_role("button", name="Show deliveries").click()
    row = card.locator(f'tr[data-delivery-id="{failed["id"]}"]')
    expect(row).to_have_attribute("data-status", "failed")
    expect(row.locator("ol.attempts li")).to_have_count(2)
    expect(row).to_contain_text("HTTP 500")
    chromium.shoot(page, "webhooks")
    row.get_by_role("button", name="Retry now").click()
    expect(card.locator(f'tr[data-delivery-id="{failed["id"]}"]')).to_have_attribute(
        "data-status", "delivered", timeout=20_000
    )
    expect(card.locator(f'tr[data-delivery-id="{failed["id"]}"] ol.attempts li')).to_have_count(3)
    arrived = receiver.wait_for(1)
    assert list(arrived) == [failed["event_id"]]
    assert wait_for_delivery(api, endpoint["id"], "delivered")["id"] == failed["id"]

    card.get_by_role("button", name="Rotate secret").click()
    page.get_by_role("dialog").get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_text("New secret for")).to_be_visible()
    rotated = page.locator(".secret-value").inner_text()
    assert rotated.startswith("whsec_") and rotated != secret

    card.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_contain_text("Disabled")
    assert api.get(f"/webhook-endpoints/{endpoint['id']}").json()["enabled"] is False
    card = page.locator(f'article[data-endpoint-id="{endpoint["id"]}"]')
    expect(card).to_contain_text("Disabled")
    card.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("status")).to_contain_text("Enabled")
    assert api.get(f"/webhook-endpoints/{endpoint['id']}").json()["enabled"] is True

    # The events page: the claim's fact, and a type filter that can come up empty.
    page.get_by_role("link", name="Events").click()
    table = page.get_by_role("table", name="Events")
    expect(table.locator('tr[data-event-type="reward.reward_claimed"]')).to_have_count(1)
    expect(table).to_contain_text(failed["event_id"])
    chromium.shoot(page, "events")
    page.get_by_label("Type").select_option("campaign.completed")
    expect(page.get_by_text("No campaign.completed events yet.")).to_be_visible()
    page.get_by_label("Type").select_option("reward.reward_claimed")
    expect(table.locator("tbody tr")).to_have_count(1)


def test_a_private_url_is_refused_next_to_the_url_field(signed_in: Page, api: Api) -> None:
    page = signed_in
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_role("button", name="Add endpoint").click()
    page.get_by_label("URL").fill("not a url")
    page.locator("form").get_by_role("button", name="Add endpoint").click()
    expect(page.locator('[data-error-for="url"]')).to_be_visible()
    assert api.get("/webhook-endpoints").json()["webhook_endpoints"] == []
