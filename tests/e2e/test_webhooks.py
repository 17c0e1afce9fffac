"""Webhooks as a fulfillment team sees them: real gunicorn, Celery worker and beat, and a
verifying receiver on 127.0.0.1. Claims made over HTTP arrive signed, once per fact after
deduplication on webhook-id, through failures, a kill -9 of the worker and a lost queue.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from pydantic import ValidationError
from pydantic_settings.exceptions import SettingsError

from core.db import Database
from core.migrate import upgrade
from core.settings import Settings
from tests.support.client import Api
from tests.support.processes import die_with_parent
from tests.support.receiver import Answer, Receiver
from tests.support.services import fresh_database, private_redis_db
from tests.support.stack import Stack, free_port
from tests.support.tenants import make_tenant

pytestmark = pytest.mark.slow
SCHEDULE_VAR = "COFFER_WEBHOOK_RETRY_SCHEDULE"


def schedule_env(value: str) -> str:
    """The schedule as CONTRACT §1 writes it (`1,1,1`), or as a JSON list while the settings
    still JSON-decode lists from the environment (until their parsing follows §1)."""
    saved = os.environ.get(SCHEDULE_VAR)
    os.environ[SCHEDULE_VAR] = value
    try:
        Settings(_env_file=None)  # type: ignore[call-arg]
    except (ValidationError, SettingsError):
        return "[" + value + "]"
    finally:
        if saved is None:
            del os.environ[SCHEDULE_VAR]
        else:
            os.environ[SCHEDULE_VAR] = saved
    return value


@pytest.fixture(scope="module")
def hook_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Database]]:
    """A stack delivering to 127.0.0.1 on a compressed schedule (1 s, 1 s, 1 s)."""
    with fresh_database("hooks") as url, private_redis_db() as redis_url:
        upgrade(url)
        db = Database(url, pool_size=4)
        running = Stack(
            database_url=url,
            redis_url=redis_url,
            logs=tmp_path_factory.mktemp("hook-stack-logs"),
            sweep_interval_s="2",
            webhook_allow_private="1",
            webhook_retry_schedule=schedule_env("1,1,1"),
            webhook_timeout_s="3",
        )
        try:
            running.start_api()
            running.start_worker(concurrency=3)
            running.start_beat()
            yield running, db
        finally:
            running.stop()
            db.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def setup(
    hook_stack: tuple[Stack, Database], receiver: Receiver, codes: int = 20
) -> tuple[Api, str, str]:
    """A tenant, a reward of `codes` codes, an endpoint at `receiver`: (api, reward, endpoint)."""
    stack, db = hook_stack
    tenant = make_tenant(db)
    api = Api(stack.base_url, tenant.key())
    reward = api.create_reward(max_claims_per_user=1000)
    api.upload(reward["id"], [f"C-{uuid.uuid4().hex[:10]}" for _ in range(codes)])
    response = api.post(
        "/webhook-endpoints", {"url": receiver.url, "event_types": ["reward.reward_claimed"]}
    )
    assert response.status_code == 201, response.text
    receiver.secrets.append(response.json()["secret"])
    return api, reward["id"], response.json()["id"]


def claim_all(api: Api, reward_id: str, n: int, prefer: str | None = None) -> list[dict[str, Any]]:
    claims = []
    for i in range(n):
        response = api.claim(reward_id, f"user-{i}", prefer=prefer)
        assert response.status_code in (201, 202), response.text
        claims.append(response.json())
    return claims


def test_each_claim_arrives_once_signed_with_its_data(
    hook_stack: tuple[Stack, Database], receiver: Receiver
) -> None:
    api, reward_id, _ = setup(hook_stack, receiver)
    claims = claim_all(api, reward_id, 5)
    delivered = receiver.wait_for(5)
    by_claim = {r.payload["data"]["claim_id"]: r for r in delivered.values()}
    assert set(by_claim) == {c["claim_id"] for c in claims}
    for claim in claims:
        got = by_claim[claim["claim_id"]]
        assert got.payload["type"] == "reward.reward_claimed"
        data = got.payload["data"]
        for name in ("participant_id", "reward_id", "code_value", "claimed_at", "points_deducted"):
            assert data[name] == claim[name], name
    assert all(r.verified_by == (0,) for r in receiver.received)
    events = api.get("/events?type=reward.reward_claimed").json()["events"]
    assert {e["id"] for e in events} == set(delivered)  # the webhook-id is the event's id


def test_a_failing_receiver_gets_retries_with_the_same_id_and_fresh_signatures(
    hook_stack: tuple[Stack, Database], receiver: Receiver
) -> None:
    api, reward_id, endpoint_id = setup(hook_stack, receiver)
    receiver.answer(Answer(500), Answer(503))
    claim_all(api, reward_id, 1)
    (event_id,) = receiver.wait_for(1, timeout_s=30)
    tries = [r for r in receiver.received if r.webhook_id == event_id]
    assert [r.answered for r in tries] == [500, 503, 204]
    assert all(r.verified_by == (0,) for r in tries)
    assert len({r.headers["webhook-signature"] for r in tries}) == 3
    assert len({r.headers["webhook-timestamp"] for r in tries}) == 3
    assert len({r.body for r in tries}) == 1  # the same bytes each time
    # The receiver has answered 204; the worker records it in the transaction after the call.
    deadline = time.monotonic() + 15
    while True:
        (shown,) = api.get(f"/webhook-endpoints/{endpoint_id}/deliveries").json()["deliveries"]
        if shown["status"] != "pending" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert shown["status"] == "delivered"
    assert [a["status_code"] for a in shown["attempts"]] == [500, 503, 204]


def test_410_disables_the_endpoint(hook_stack: tuple[Stack, Database], receiver: Receiver) -> None:
    api, reward_id, endpoint_id = setup(hook_stack, receiver)
    receiver.default = Answer(410)
    claim_all(api, reward_id, 1)
    deadline = time.monotonic() + 20
    while api.get(f"/webhook-endpoints/{endpoint_id}").json()["enabled"]:
        assert time.monotonic() < deadline, "the endpoint was not disabled"
        time.sleep(0.2)
    shown = api.get(f"/webhook-endpoints/{endpoint_id}").json()
    assert "410" in shown["disabled_reason"]
    time.sleep(3)  # the schedule (1 s) would have tried again by now
    assert len(receiver.received) == 1


def test_both_secrets_sign_after_a_rotation(
    hook_stack: tuple[Stack, Database], receiver: Receiver
) -> None:
    api, reward_id, endpoint_id = setup(hook_stack, receiver)
    rotated = api.post(f"/webhook-endpoints/{endpoint_id}/rotate-secret")
    assert rotated.status_code == 200
    receiver.secrets.append(rotated.json()["secret"])
    claim_all(api, reward_id, 1)
    (got,) = receiver.wait_for(1).values()
    assert got.verified_by == (0, 1)
    assert got.headers["webhook-signature"].count("v1,") == 2


def _backoff_then(
    hook_stack: tuple[Stack, Database], receiver: Receiver, fault: str, n: int = 6
) -> None:
    stack, _ = hook_stack
    api, reward_id, _ = setup(hook_stack, receiver)
    receiver.answer(*[Answer(500)] * n)  # every first attempt fails: all in backoff
    claims = claim_all(api, reward_id, n)
    deadline = time.monotonic() + 30
    while len(receiver.received) < n:
        assert time.monotonic() < deadline, "first attempts did not arrive"
        time.sleep(0.05)
    stack.kill("worker")  # kill -9, during backoff
    if fault == "queue":
        client = redis.Redis.from_url(stack.env["COFFER_BROKER_URL"])
        time.sleep(1.5)  # beat queues the due retries for a worker that is gone
        queue = [k for k in client.keys("coffer*") if k.split(b"\x06\x16")[0] == b"coffer"]
        assert queue, "beat queued nothing while the worker was away"
        client.delete(*queue)  # the broker's queue (and its priority lists) is lost
        client.close()
    stack.start_worker(concurrency=3)
    delivered = receiver.wait_for(n, timeout_s=90)
    assert {r.payload["data"]["claim_id"] for r in delivered.values()} == {
        c["claim_id"] for c in claims
    }
    assert len(delivered) == n  # every fact exactly once, after deduplication on webhook-id


def test_kill_9_of_the_worker_during_backoff_loses_nothing(
    hook_stack: tuple[Stack, Database], receiver: Receiver
) -> None:
    _backoff_then(hook_stack, receiver, "kill")


def test_deleting_the_broker_queue_loses_nothing(
    hook_stack: tuple[Stack, Database], receiver: Receiver
) -> None:
    _backoff_then(hook_stack, receiver, "queue")


def test_the_receiver_example_in_the_docs_runs_as_written(
    hook_stack: tuple[Stack, Database], tmp_path: Path
) -> None:
    document = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text()
    (example,) = re.findall(r"^```python\n(.*?)^```", document, flags=re.S | re.M)
    (tmp_path / "receiver.py").write_text(example)
    stack, db = hook_stack
    api = Api(stack.base_url, make_tenant(db).key())
    reward = api.create_reward()
    api.upload(reward["id"], ["DOC-0001"])
    port = free_port()
    made = api.post(
        "/webhook-endpoints",
        {"url": f"http://127.0.0.1:{port}/coffer", "event_types": ["reward.reward_claimed"]},
    )
    assert made.status_code == 201, made.text
    env = {**os.environ, "COFFER_WEBHOOK_SECRET": made.json()["secret"], "PORT": str(port)}
    with subprocess.Popen(
        [sys.executable, "receiver.py"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl
    ) as receiver:
        try:
            claim = api.claim(reward["id"], "doc-reader").json()
            assert receiver.stdout is not None
            line = json.loads(receiver.stdout.readline())  # blocks until the first fulfilment
        finally:
            receiver.kill()
    assert line["fresh"] is True and line["type"] == "reward.reward_claimed"
    assert line["data"]["claim_id"] == claim["claim_id"]
    assert line["data"]["code_value"] == "DOC-0001"
    with sqlite3.connect(tmp_path / "fulfilments.db") as stored:
        assert stored.execute("SELECT webhook_id FROM fulfilments").fetchall() == [
            (line["webhook_id"],)
        ]


def test_a_slow_endpoint_does_not_hold_up_the_others(
    hook_stack: tuple[Stack, Database], receiver: Receiver
) -> None:
    api, reward_id, _ = setup(hook_stack, receiver)
    with Receiver() as slow:
        slow.default = Answer(204, delay_s=2.0)  # within the 3 s timeout, but slow
        made = api.post("/webhook-endpoints", {"url": slow.url, "event_types": ["*"]})
        slow.secrets.append(made.json()["secret"])
        started = time.monotonic()
        claim_all(api, reward_id, 6)
        receiver.wait_for(6, timeout_s=30)
        healthy_s = time.monotonic() - started
        slow.wait_for(6, timeout_s=60)
        slow_s = time.monotonic() - started
    # The slow endpoint's rounds take 2 s each and one task at a time holds them; the healthy
    # endpoint's deliveries wait for none of that.
    assert slow_s >= 2.0
    assert healthy_s < 4.0, f"the healthy endpoint waited {healthy_s:.1f} s"
    assert healthy_s < slow_s


def test_a_reversal_is_delivered_to_the_endpoints_of_its_type_only(
    hook_stack: tuple[Stack, Database], receiver: Receiver
) -> None:
    api, reward_id, _ = setup(hook_stack, receiver)  # this one takes reward.reward_claimed
    with Receiver() as reversals:
        made = api.post(
            "/webhook-endpoints", {"url": reversals.url, "event_types": ["reward.claim_reversed"]}
        )
        reversals.secrets.append(made.json()["secret"])
        (claim,) = claim_all(api, reward_id, 1)
        reversed_ = api.post(
            f"/claims/{claim['claim_id']}/reverse",
            {"reason": "customer returned it", "restock": True},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert reversed_.status_code == 200, reversed_.text
        (got,) = reversals.wait_for(1).values()
        assert got.payload["type"] == "reward.claim_reversed"
        assert got.payload["data"]["claim_id"] == claim["claim_id"]
        assert got.payload["data"]["restocked"] is True
    (claimed,) = receiver.wait_for(1).values()
    assert claimed.payload["type"] == "reward.reward_claimed"
    time.sleep(1)
    assert {r.payload["type"] for r in receiver.received} == {"reward.reward_claimed"}


def test_metrics_count_deliveries_by_outcome_without_ids(
    hook_stack: tuple[Stack, Database], receiver: Receiver
) -> None:
    stack, _ = hook_stack

    def scrape() -> str:
        response = requests.get(f"{stack.base_url}/metrics", timeout=10)
        assert response.status_code == 200
        return response.text

    def sample(text: str, outcome: str) -> float:
        found = re.search(
            rf'^coffer_webhook_deliveries_total\{{outcome="{outcome}"\}} (\S+)$', text, re.M
        )
        return float(found.group(1)) if found else -1.0

    before = scrape()
    assert sample(before, "failed") >= 0  # every outcome is a series from the start
    api, reward_id, endpoint_id = setup(hook_stack, receiver)
    receiver.answer(Answer(500))  # the first attempt fails, the retry delivers
    claim_all(api, reward_id, 3)
    receiver.wait_for(3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        after = scrape()
        if sample(after, "delivered") - sample(before, "delivered") >= 3:
            break
        time.sleep(0.1)
    assert sample(after, "delivered") - sample(before, "delivered") >= 3
    assert sample(after, "retrying") - sample(before, "retrying") >= 1
    assert "coffer_webhook_deliveries_pending" in after
    # Bounded labels: no endpoint, tenant or reward id shows on this keyless endpoint.
    series = [line for line in after.splitlines() if line.startswith("coffer_webhook")]
    assert series and not any(
        endpoint_id in line or reward_id in line or "tenant" in line for line in series
    )


def test_a_webhook_backlog_does_not_hold_up_storefront_claims(
    hook_stack: tuple[Stack, Database], receiver: Receiver
) -> None:
    """Deliveries to slow and failing endpoints pile up; a storefront's sync claims are still
    decided within the wait (201), since rounds run on the delivery lanes, not in the task
    slots claims are drained in."""
    api, reward_id, _ = setup(hook_stack, receiver, codes=200)
    with Receiver() as slow, Receiver() as failing:
        slow.default = Answer(204, delay_s=2.5)
        failing.default = Answer(500)
        for sink in (slow, failing):
            made = api.post("/webhook-endpoints", {"url": sink.url, "event_types": ["*"]})
            assert made.status_code == 201, made.text
            sink.secrets.append(made.json()["secret"])
        backlog = claim_all(api, reward_id, 120, prefer="respond-async")
        assert len(backlog) == 120
        deadline = time.monotonic() + 20
        while pending_deliveries(hook_stack[1]) < 100 and time.monotonic() < deadline:
            time.sleep(0.2)  # until the drains have written the facts: a backlog is due
        assert pending_deliveries(hook_stack[1]) >= 100
        waits = []
        for i in range(5):
            started = time.monotonic()
            response = api.claim(reward_id, f"shopper-{i}")
            waits.append(time.monotonic() - started)
            assert response.status_code == 201, response.text
        assert max(waits) < 4.0, f"sync claims waited {waits}"
        slow.wait_for(1, timeout_s=30)  # and the backlog is being delivered meanwhile


def pending_deliveries(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(
            connection.exec_driver_sql(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
            ).scalar_one()
        )
