"""Nothing accepted is lost: kill -9 of the worker, a lost broker message, an absent broker.

Each test runs its own stack (database, Redis database, processes) so it can break it.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import redis
from sqlalchemy import func, select

from core.db import Database
from core.models import Claim, Inventory
from tests.support.client import Api
from tests.support.stack import Stack
from tests.support.tenants import make_tenant

MakeStack = Callable[..., tuple[Stack, Database]]


def statuses(db: Database, claim_ids: list[str]) -> Counter[str]:
    with db.transaction() as session:
        rows = session.execute(
            select(Claim.status, func.count())
            .where(Claim.claim_id.in_(claim_ids))
            .group_by(Claim.status)
        )
        return Counter(dict(rows.all()))


def wait_until_final(db: Database, claim_ids: list[str], timeout_s: float = 60) -> Counter[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        counts = statuses(db, claim_ids)
        if counts["pending"] == 0 and counts.total() == len(claim_ids):
            return counts
        time.sleep(0.25)
    raise AssertionError(f"claims still pending after {timeout_s}s: {statuses(db, claim_ids)}")


def assert_each_code_once(db: Database, reward_id: str, successes: int) -> None:
    with db.transaction() as session:
        held = select(Claim).where(Claim.reward_id == reward_id, Claim.status == "succeeded")
        claims = session.scalars(held).all()
        allocated = session.get(Inventory, reward_id).allocated_count  # type: ignore[union-attr]
    assert len(claims) == successes == allocated
    assert len({c.code_id for c in claims}) == len({c.claim_id for c in claims}) == successes


def seeded(stack: Stack, db: Database, codes: int) -> tuple[Api, str]:
    tenant = make_tenant(db)
    api = Api(stack.base_url, tenant.key())
    reward = api.create_reward(max_claims_per_user=1000)
    api.upload(reward["id"], [f"C-{n:05d}" for n in range(codes)])
    return api, reward["id"]


def accept_async(api: Api, reward_id: str, count: int) -> list[str]:
    def one(n: int) -> str:
        response = api.claim(reward_id, f"p-{n % 50}", prefer="respond-async")
        assert response.status_code == 202, response.text
        return response.json()["claim_id"]

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(count)))


def test_kill_9_of_the_worker_mid_burst_loses_nothing_and_doubles_nothing(
    private_stack: MakeStack,
) -> None:
    stack, db = private_stack(sweep_interval_s="1", claim_batch_size="20")
    stack.start_api()
    stack.start_worker()
    stack.start_beat()
    api, reward_id = seeded(stack, db, codes=400)

    with ThreadPoolExecutor(1) as background:
        burst = background.submit(accept_async, api, reward_id, 600)
        time.sleep(1.0)
        stack.kill("worker")  # SIGKILL to the whole process group, mid-batch
        claim_ids = burst.result()
    assert statuses(db, claim_ids)["pending"] > 0, "the kill came too late to test anything"
    stack.start_worker()

    counts = wait_until_final(db, claim_ids)
    assert counts == {"succeeded": 400, "failed": 200}
    assert_each_code_once(db, reward_id, 400)


def test_a_lost_broker_message_is_recovered_by_the_sweep(private_stack: MakeStack) -> None:
    stack, db = private_stack(sweep_interval_s="1")
    stack.start_api()
    api, reward_id = seeded(stack, db, codes=100)
    claim_ids = accept_async(api, reward_id, 60)  # no worker yet: messages wait in Redis

    broker = redis.Redis.from_url(stack.env["COFFER_BROKER_URL"])
    assert broker.llen("coffer") >= 1
    broker.delete("coffer", "coffer:claims-doorbell")  # the broker loses every message
    broker.close()
    stack.start_worker()
    time.sleep(2)
    assert statuses(db, claim_ids)["pending"] == 60, "nothing should run without a message"

    stack.start_beat()
    assert wait_until_final(db, claim_ids) == {"succeeded": 60}
    assert_each_code_once(db, reward_id, 60)


def test_an_unreachable_broker_still_accepts_with_202_and_the_sweep_catches_up(
    private_stack: MakeStack,
) -> None:
    stack, db = private_stack(sweep_interval_s="1")
    stack.start_api(COFFER_BROKER_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1
    api, reward_id = seeded(stack, db, codes=10)

    started = time.monotonic()
    response = api.claim(reward_id, "patient", key=f"k-{uuid.uuid4().hex}")
    assert response.status_code == 202, response.text
    assert time.monotonic() - started < 10
    claim_id = response.json()["claim_id"]

    stack.start_worker()
    stack.start_beat()
    assert wait_until_final(db, [claim_id]) == {"succeeded": 1}
    assert api.get(f"/claims/{claim_id}").json()["code_value"] == "C-00000"
