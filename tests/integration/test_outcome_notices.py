"""A waiting claim request and a lost notice (core/notify.py, CONTRACT §6).

The worker pushes each outcome to Redis after commit and the API blocks on it. When the
notice never arrives (the push failed, or Redis restarted in between and lost it) but the
claim was decided within the wait, the request is answered with the outcome, not 202.
"""

from __future__ import annotations

import socket

import redis as redis_lib

from core.claims.drain import Drain
from core.metrics import LocalClaimStats, RedisClaimStats
from core.notify import NoticesAndCounts, PolledOutcomes, RedisOutcomes
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


def test_one_trip_announcer_delivers_the_notice_and_counts_the_outcome(
    runtime: Runtime, redis_url: str, tenant: TestTenant
) -> None:
    """The drain task's notices and /metrics counts share one pipeline (NoticesAndCounts):
    the waiting request gets its 201 and the counts move, both from that one trip."""
    client = redis_lib.Redis.from_url(redis_url, socket_timeout=5)
    namespace = f"one-trip-{tenant.id}"
    notices = RedisOutcomes(client, fallback=PolledOutcomes(runtime.db), namespace=namespace)
    counts = RedisClaimStats(client, namespace=namespace)
    announcer = NoticesAndCounts.combine(notices, counts)
    assert announcer is not None
    reward = new_reward(runtime.db, tenant, codes=1)
    recorded = accept(runtime.db, tenant, reward, "one-trip")
    assert recorded.resource_id is not None

    Drain(runtime.db, announcer, batch_size=10).run()

    key = notices._key(recorded.resource_id)
    assert client.llen(key) == 1  # pushed (a wait alone would also find it in the database)
    notice = notices.wait(claim_id=recorded.resource_id, record_id=recorded.id, timeout_s=0.5)
    assert notice is not None and notice.status == 201
    assert client.llen(key) == 0  # taken by the wait
    by_outcome, buckets, _ = counts.snapshot()
    assert by_outcome.get("succeeded", 0) >= 1
    assert buckets["+Inf"] >= 1


def test_one_trip_needs_both_on_the_same_redis_and_never_raises_when_redis_is_gone(
    runtime: Runtime, redis_url: str
) -> None:
    client = redis_lib.Redis.from_url(redis_url)
    other = redis_lib.Redis.from_url(redis_url)
    assert NoticesAndCounts.combine(RedisOutcomes(client), LocalClaimStats()) is None
    assert NoticesAndCounts.combine(RedisOutcomes(client), RedisClaimStats(other)) is None
    assert NoticesAndCounts.combine(PolledOutcomes(runtime.db), RedisClaimStats(client)) is None

    with socket.socket() as probe:  # a port nobody listens on: a real refused connection
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = redis_lib.Redis(port=port, socket_connect_timeout=0.5)
    announcer = NoticesAndCounts.combine(RedisOutcomes(gone), RedisClaimStats(gone))
    assert announcer is not None
    announcer.publish([])  # logged, not raised: the batch has already committed
