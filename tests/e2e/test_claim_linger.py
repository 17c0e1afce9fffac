"""A lingering drain (COFFER_CLAIM_LINGER_MS) with real processes: gunicorn, a Celery
worker, Redis as broker and doorbell.

The drain tasks the broker carried are counted in the worker's log: at INFO, Celery logs
"Task coffer.claims.drain[<id>] received" once per message the worker takes.
"""

from __future__ import annotations

import re
import time

import redis

from core.db import Database
from tests.e2e.test_faults import (
    MakeStack,
    assert_each_code_once,
    seeded,
    statuses,
    wait_until_final,
)
from tests.support.stack import Stack

DRAIN_RECEIVED = re.compile(r"Task coffer\.claims\.drain\[[0-9a-f-]+\] received")
DOORBELL, WAKE_LIST = "coffer:claims-doorbell", "coffer:claims-wake"


def drain_tasks_received(stack: Stack) -> int:
    return len(DRAIN_RECEIVED.findall((stack.logs / "worker.log").read_text(errors="replace")))


def sync_claims_one_after_another(stack: Stack, db: Database, count: int) -> tuple[int, int]:
    """`count` sync claims, each sent after the previous one's answer; (201s, drain tasks)."""
    api, reward_id = seeded(stack, db, codes=count)
    before = drain_tasks_received(stack)
    created = sum(api.claim(reward_id, f"p-{n}").status_code == 201 for n in range(count))
    time.sleep(1.5)  # the last drain ends its linger; the worker's lines reach its log
    return created, drain_tasks_received(stack) - before


def test_sync_claims_one_after_another_share_a_few_drain_tasks_when_drains_linger(
    private_stack: MakeStack,
) -> None:
    stack, db = private_stack(claim_linger_ms="300", log_level="INFO")
    stack.start_api()
    stack.start_worker()

    created, drains = sync_claims_one_after_another(stack, db, 40)
    assert created == 40
    assert 1 <= drains <= 8, f"{drains} drain tasks for 40 claims"


def test_without_lingering_each_sync_claim_sends_its_own_drain_task(
    private_stack: MakeStack,
) -> None:
    stack, db = private_stack(claim_linger_ms="0", log_level="INFO")
    stack.start_api()
    stack.start_worker()

    created, drains = sync_claims_one_after_another(stack, db, 15)
    assert created == 15
    assert drains == 15


def test_kill_9_of_a_lingering_worker_delays_the_next_claims_only_until_its_doorbell_expires(
    private_stack: MakeStack,
) -> None:
    """No beat (no sweep) on purpose: what recovers the claims is the "lingering" key's
    expiry (at most 2 x 1000 ms) and the first claim after it, which sends a task."""
    stack, db = private_stack(claim_linger_ms="1000", log_level="INFO")
    stack.start_api()
    stack.start_worker()
    api, reward_id = seeded(stack, db, codes=10)
    bell = redis.Redis.from_url(stack.env["COFFER_REDIS_URL"])

    assert api.claim(reward_id, "first").status_code == 201
    deadline = time.monotonic() + 5
    while bell.get(DOORBELL) != b"lingering":
        assert time.monotonic() < deadline, "the drain never lingered"
        time.sleep(0.005)
    stack.kill("worker")  # SIGKILL to the whole group while its drain waits on the list
    killed_at = time.monotonic()
    stranded = []
    for n in range(5):
        response = api.claim(reward_id, f"stranded-{n}", prefer="respond-async")
        assert response.status_code == 202, response.text
        stranded.append(response.json()["claim_id"])
    assert bell.get(DOORBELL) == b"lingering", "the claims came too late to test anything"
    assert bell.llen(WAKE_LIST) == 1  # one token for the dead drain, no task sent

    stack.start_worker()
    while bell.exists(DOORBELL):
        assert time.monotonic() - killed_at < 2.5, "the dead drain's doorbell never expired"
        time.sleep(0.05)
    assert statuses(db, stranded)["pending"] == 5  # nothing rang for them (no sweep here)

    last = api.claim(reward_id, "last")  # the first claim after the expiry sends a task
    assert last.status_code == 201, last.text
    assert wait_until_final(db, stranded, timeout_s=30) == {"succeeded": 5}
    assert_each_code_once(db, reward_id, 7)  # none decided twice
    bell.close()
