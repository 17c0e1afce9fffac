"""Health, readiness and metrics, scraped from the API while workers decide claims."""

from __future__ import annotations

import re

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
    assert ready.json() == {"status": "ready", "checks": {"database": True, "broker": True}}


def test_metrics_count_claims_by_outcome_and_show_available_codes(stack: Stack, api: Api) -> None:
    reward = api.create_reward()
    api.upload(reward["id"], ["M-1", "M-2", "M-3"])
    before = scrape(stack)

    assert api.claim(reward["id"], "m1").status_code == 201
    assert api.claim(reward["id"], "m2").status_code == 201
    assert api.claim(api.create_reward()["id"], "m3").json()["code"] == "inventory_exhausted"

    after = scrape(stack)
    succeeded = 'coffer_claims_total{outcome="succeeded"}'
    exhausted = 'coffer_claims_total{outcome="inventory_exhausted"}'
    assert sample(after, succeeded) - sample(before, succeeded) >= 2
    assert sample(after, exhausted) - sample(before, exhausted) >= 1
    assert sample(after, "coffer_claim_latency_seconds_count") >= 3
    labels = f'{{mode="live",reward_id="{reward["id"]}",tenant_id="{api.tenant_id}"}}'
    assert sample(after, "coffer_reward_available_codes", labels) == 1
    assert "coffer_claims_pending " in after and "coffer_queue_messages " in after
