"""Webhooks and events: register an endpoint (secret shown once), watch a failing
endpoint's delivery fail with its attempts, retry it from the page and see it delivered;
rotate the secret, disable and enable; the events page lists the facts by type."""

from __future__ import annotations

import re
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


def test_cancel_on_a_new_endpoint_returns_focus_to_add_endpoint(signed_in: Page) -> None:
    page = signed_in
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_label("URL")).to_be_focused()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("button", name="Add endpoint")).to_be_focused()


def test_a_double_click_on_add_endpoint_adds_one(
    signed_in: Page, api: Api, receiver: Receiver
) -> None:
    page = signed_in
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_role("button", name="Add endpoint").click()
    page.get_by_label("URL").fill(receiver.url)
    page.locator("form").get_by_role("button", name="Add endpoint").dblclick()
    expect(page.get_by_text("Copy this signing secret now")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert len(api.get("/webhook-endpoints").json()["webhook_endpoints"]) == 1
    expect(page.locator("article.endpoint")).to_have_count(1)


def test_attempts_and_events_read_as_people_read_them(
    signed_in: Page, api: Api, receiver: Receiver
) -> None:
    created = api.post("/webhook-endpoints", {"url": receiver.url, "event_types": ["*"]})
    assert created.status_code == 201, created.text
    endpoint = created.json()
    receiver.answer(Answer(500), Answer(500))
    reward = api.create_reward(name="Read Prize")
    api.upload(reward["id"], ["READ-1"])
    started = api.session.post(
        api.url("/campaigns"), params={"reward_id": reward["id"]}, data="ann\nben\n",
        headers={"Content-Type": "text/csv; header=absent", "Idempotency-Key": "read-1"},
        timeout=30,
    )  # fmt: skip
    assert started.status_code in (200, 201, 202), started.text
    campaign_id = started.json()["campaign_id"]
    deadline = time.monotonic() + 30
    while api.get(f"/campaigns/{campaign_id}").json()["status"] != "completed":
        assert time.monotonic() < deadline, "the campaign did not complete"
        time.sleep(0.3)
    [claim] = (
        api.get("/participants/ann/rewards").json()["rewards"]
        or api.get("/participants/ben/rewards").json()["rewards"]
    )

    deadline = time.monotonic() + 30
    while not any(
        attempt["status_code"] == 500
        for delivery in api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").json()[
            "deliveries"
        ]
        for attempt in delivery["attempts"]
    ):
        assert time.monotonic() < deadline, "no failed attempt in time"
        time.sleep(0.3)

    page = signed_in
    page.get_by_role("link", name="Webhooks").click()
    card = page.locator(f'article[data-endpoint-id="{endpoint["id"]}"]')
    card.get_by_role("button", name="Show deliveries").click()
    expect(card.locator("ol.attempts li", has_text="HTTP 500").first).to_be_visible()
    assert "(HTTP 500)" not in card.inner_text()  # the status once, not again as the error

    page.get_by_role("link", name="Events").click()
    table = page.get_by_role("table", name="Events")
    claimed = table.locator('tr[data-event-type="reward.reward_claimed"]')
    expect(claimed).to_have_count(1)
    stamp = claimed.locator(f'dl.data time[datetime="{claim["claimed_at"]}"]')  # claimed_at
    people = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2} [AP]M UTC$")
    expect(stamp).to_have_text(people)  # "Nov 30, 2026, 6:32 AM UTC", not RFC 3339
    completed = table.locator('tr[data-event-type="campaign.completed"]')
    expect(completed).to_contain_text("inventory_exhausted: 1")
    assert "{" not in completed.inner_text()  # no raw JSON

    page.get_by_label("Type").select_option("campaign.completed")
    expect(table.locator("tbody tr")).to_have_count(1)
    assert page.url.endswith("#/events/campaign.completed")
    page.reload()  # the filter is in the address, so it survives
    expect(page.get_by_label("Type")).to_have_value("campaign.completed")
    expect(page.get_by_role("table", name="Events").locator("tbody tr")).to_have_count(1)
    page.get_by_label("Type").select_option("")
    assert page.url.endswith("#/events")
    expect(page.get_by_role("table", name="Events").locator("tbody tr")).to_have_count(
        len(api.get("/events").json()["events"])
    )
