"""Health, readiness and metrics, scraped from the API while workers decide claims."""

from __future__ import annotations

import re
import time
import uuid

import requests

from tests.support.client import Api
from tests.support.stack import Stack


def scrape(stack: Stack) -> str:
    response = requests.get(f"{stack.base_url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


def sample(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_health_and_readiness_need_no_key(stack: Stack) -> None:
    assert requests.get(f"{stack.base_url}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{stack.base_url}/readyz", timeout=5)
    assert ready.status_code == 200
    up = {"status": "up", "required": True}
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": up, "broker": up, "redis": {"status": "up", "required": False}},
    }


def test_metrics_count_claims_by_outcome_and_low_stock_without_ids(stack: Stack, api: Api) -> None:
    reward = api.create_reward(low_stock_threshold=1)
    api.upload(reward["id"], ["M-1", "M-2", "M-3"])
    before = scrape(stack)
    participants = [f"metrics-{uuid.uuid4().hex}" for _ in range(3)]

    assert api.claim(reward["id"], participants[0]).status_code == 201
    assert api.claim(reward["id"], participants[1]).status_code == 201
    empty = api.create_reward()
    assert api.claim(empty["id"], participants[2]).json()["code"] == "inventory_exhausted"

    succeeded = 'coffer_claims_total{outcome="succeeded"}'
    exhausted = 'coffer_claims_total{outcome="inventory_exhausted"}'

    def counted(text: str) -> bool:
        return (
            sample(text, succeeded) - sample(before, succeeded) >= 2
            and sample(text, exhausted) - sample(before, exhausted) >= 1
        )

    # The worker counts a batch just after publishing its outcomes: allow it a moment.
    deadline = time.monotonic() + 10
    while not counted(after := scrape(stack)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert counted(after), after
    assert sample(after, "coffer_claim_latency_seconds_count") >= 3
    # Claims that failed for an internal fault: a series from the start, zero here.
    assert re.search(r'^coffer_claims_total\{outcome="processing_failed"\} 0\.0$', after, re.M)
    # One code left of three, threshold 1: this reward now counts as low on stock.
    low = 'coffer_rewards_low_stock{mode="live"}'
    assert sample(after, low) - sample(before, low) == 1
    assert "coffer_claims_pending " in after and "coffer_queue_messages " in after

    # CONTRACT §9: no tenant, participant or reward id in any label.
    ids = {api.tenant_id, reward["id"], empty["id"], *participants}
    values = re.findall(r'="([^"]*)"', after)
    assert values and not [v for v in values if any(i and i in v for i in ids)]
    assert {"tenant_id", "reward_id", "participant_id"}.isdisjoint(re.findall(r'(\w+)="', after))
