"""A waiting claim request and a lost notice (core/notify.py, CONTRACT §6).

The worker pushes each outcome to Redis after commit and the API blocks on it. When the
notice never arrives (the push failed, or Redis restarted in between and lost it) but the
claim was decided within the wait, the request is answered with the outcome, not 202.
"""

from __future__ import annotations

import redis as redis_lib

from core.claims.drain import Drain
from core.notify import PolledOutcomes, RedisOutcomes
from core.runtime import Runtime
from tests.support.claims import accept, new_reward
from tests.support.tenants import TestTenant


def _waiter(runtime: Runtime, redis_url: str) -> RedisOutcomes:
    client = redis_lib.Redis.from_url(redis_url, socket_timeout=5)
    return RedisOutcomes(client, fallback=PolledOutcomes(runtime.db))


def test_a_claim_decided_without_its_notice_is_answered_with_its_outcome(
    runtime: Runtime, redis_url: str, tenant: TestTenant
) -> None:
    reward = new_reward(runtime.db, tenant, codes=1)
    recorded = accept(runtime.db, tenant, reward, "lost-notice")
    assert recorded.resource_id is not None
    # Decided by a drain whose publisher tells no one: the notice is lost.
    Drain(runtime.db, PolledOutcomes(runtime.db), batch_size=10).run()

    notice = _waiter(runtime, redis_url).wait(
        claim_id=recorded.resource_id, record_id=recorded.id, timeout_s=0.2
    )

    assert notice is not None
    assert notice.status == 201
    assert notice.body["claim_id"] == recorded.resource_id
    assert notice.body["status"] == "succeeded"


def test_a_claim_still_pending_when_the_wait_runs_out_is_answered_202(
    runtime: Runtime, redis_url: str, tenant: TestTenant
) -> None:
    reward = new_reward(runtime.db, tenant, codes=1)
    recorded = accept(runtime.db, tenant, reward, "still-pending")
    assert recorded.resource_id is not None

    notice = _waiter(runtime, redis_url).wait(
        claim_id=recorded.resource_id, record_id=recorded.id, timeout_s=0.2
    )

    assert notice is None  # the API answers 202 with the claim id
