"""The lingering drain's doorbell on real Redis and PostgreSQL, one step at a time.

A claim is committed before its request runs the wake script; the drain that lingers
ends with an exit script. Whatever the order of the two scripts, the claim is decided:
counted by the exit (so the drain runs one more batch), or rung as before (a task).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from celery import Celery

from core.claims.drain import Drain, DrainReport
from core.claims.linger import drain_lingering
from core.notify import PolledOutcomes
from core.runtime import Runtime
from tests.support.claims import accept, new_reward, outcomes
from tests.support.tenants import TestTenant
from workers.queue import ClaimQueue


class Broker:
    """A Celery app sending to a queue of its own, so the test counts the drain tasks."""

    def __init__(self, redis_url: str) -> None:
        self.queue_name = f"linger-test-{uuid.uuid4().hex[:8]}"
        self.celery = Celery("linger-test", broker=redis_url)
        self.celery.conf.update(task_default_queue=self.queue_name, task_serializer="json")
        self.redis = redis.Redis.from_url(redis_url)

    def drain_tasks(self) -> int:
        return int(self.redis.llen(self.queue_name))

    def close(self) -> None:
        self.redis.delete(self.queue_name)
        self.redis.close()
        self.celery.close()


@pytest.fixture
def broker(redis_url: str) -> Iterator[Broker]:
    made = Broker(redis_url)
    yield made
    made.close()


@pytest.fixture
def queue(broker: Broker, runtime: Runtime) -> ClaimQueue:
    namespace = f"linger-{uuid.uuid4().hex[:8]}"  # a doorbell and wake list of its own
    return ClaimQueue(broker.celery, runtime.redis, namespace=namespace, linger_ms=50)


def drain(runtime: Runtime) -> Drain:
    return Drain(runtime.db, PolledOutcomes(runtime.db), batch_size=50)


def status(runtime: Runtime, claim_id: str) -> str:
    return outcomes(runtime.db, [claim_id])[claim_id][0]


@contextmanager
def claims_every_20_ms(
    runtime: Runtime, tenant: TestTenant, queue: ClaimQueue, *, prefix: str
) -> Iterator[None]:
    """A storefront thread recording a claim and waking the queue every 20 ms, for as long
    as the block runs (a steady trickle that keeps a lingering drain busy)."""
    reward_id = new_reward(runtime.db, tenant, codes=200)
    stop = threading.Event()

    def feed() -> None:
        for n in range(200):
            if stop.wait(0.02):
                return
            accept(runtime.db, tenant, reward_id, f"{prefix}-{n}")
            queue.wake()

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        yield
    finally:
        stop.set()
        feeder.join()


def test_a_claim_woken_while_the_drain_lingers_is_counted_by_its_exit_and_decided(
    runtime: Runtime, tenant: TestTenant, queue: ClaimQueue, broker: Broker
) -> None:
    reward_id = new_reward(runtime.db, tenant, codes=1)
    assert queue.linger(again=False)
    assert runtime.redis.get(queue.doorbell) == b"lingering"
    assert 0 < runtime.redis.pttl(queue.doorbell) <= 200  # max(2 x 50 ms, 200 ms)

    claim_id = accept(runtime.db, tenant, reward_id, "early").resource_id or ""  # committed
    assert queue.wake() is False  # the lingering drain is woken: no task
    assert queue.wake() is False  # a second claim adds no second token
    assert runtime.redis.llen(queue.wake_list) == 1

    assert queue.stop_lingering() == 1  # the exit sees the token: one more batch is due
    assert runtime.redis.exists(queue.doorbell, queue.wake_list) == 0
    assert status(runtime, claim_id) == "pending"
    assert drain(runtime).run().decided >= 1
    assert status(runtime, claim_id) == "succeeded"
    assert broker.drain_tasks() == 0


def test_a_claim_woken_after_the_linger_ended_rings_and_sends_a_task(
    runtime: Runtime, tenant: TestTenant, queue: ClaimQueue, broker: Broker
) -> None:
    reward_id = new_reward(runtime.db, tenant, codes=1)
    assert queue.linger(again=False)
    assert queue.stop_lingering() == 0  # nobody came: the doorbell is gone

    accept(runtime.db, tenant, reward_id, "late")
    assert queue.wake() is True
    assert broker.drain_tasks() == 1
    assert runtime.redis.get(queue.doorbell) == b"1"
    assert runtime.redis.llen(queue.wake_list) == 0


def test_a_drain_never_lingers_over_a_task_on_its_way_and_ends_only_its_own_linger(
    runtime: Runtime, queue: ClaimQueue, broker: Broker
) -> None:
    assert queue.wake() is True  # a task is on its way: the doorbell says "1"
    assert queue.linger(again=False) is False
    assert queue.linger(again=True) is False
    assert queue.wake() is False
    assert runtime.redis.llen(queue.wake_list) == 0  # "1" means a task: no token needed
    assert queue.stop_lingering() == 0
    assert runtime.redis.get(queue.doorbell) == b"1"  # the exit leaves a task's doorbell
    assert broker.drain_tasks() == 1

    runtime.redis.set(queue.doorbell, "lingering")  # another drain lingers
    assert queue.linger(again=False) is False  # a first linger needs the doorbell absent


def test_a_lingering_drain_decides_claims_that_arrive_while_it_waits_without_a_task(
    runtime: Runtime, tenant: TestTenant, queue: ClaimQueue, broker: Broker
) -> None:
    reward_id = new_reward(runtime.db, tenant, codes=3)
    reports: list[DrainReport] = []
    worker = threading.Thread(
        target=lambda: reports.append(drain_lingering(drain(runtime), queue, linger_ms=400))
    )
    worker.start()
    claim_ids = []
    for n in range(3):
        deadline = time.monotonic() + 5
        while runtime.redis.get(queue.doorbell) != b"lingering":
            assert time.monotonic() < deadline, "the drain never lingered"
            time.sleep(0.002)
        claim_id = accept(runtime.db, tenant, reward_id, f"sync-{n}").resource_id or ""
        assert queue.wake() is False
        deadline = time.monotonic() + 5
        while status(runtime, claim_id) == "pending":
            assert time.monotonic() < deadline, "the lingering drain missed the claim"
            time.sleep(0.005)
        claim_ids.append(claim_id)
    worker.join(timeout=5)

    assert not worker.is_alive()
    assert {status(runtime, claim_id) for claim_id in claim_ids} == {"succeeded"}
    assert reports[0].decided >= 3 and not reports[0].out_of_time
    assert runtime.redis.exists(queue.doorbell, queue.wake_list) == 0  # the linger ended
    assert broker.drain_tasks() == 0


def test_a_lingering_drain_kept_busy_hands_over_to_a_fresh_task_when_its_budget_is_spent(
    runtime: Runtime, tenant: TestTenant, queue: ClaimQueue
) -> None:
    started = time.monotonic()
    with claims_every_20_ms(runtime, tenant, queue, prefix="busy"):
        report = drain_lingering(drain(runtime), queue, linger_ms=1000, budget_s=0.5)
    assert report.out_of_time  # the task then sends a fresh one (queue.wake(force=True))
    assert report.decided >= 5
    assert time.monotonic() - started < 1.2  # not the 1 s linger on top of the budget
    assert runtime.redis.get(queue.doorbell) != b"lingering"  # it ended its linger


def test_a_starting_drain_marks_the_doorbell_lingering_so_claims_during_its_batch_send_no_task(
    runtime: Runtime, tenant: TestTenant, queue: ClaimQueue, broker: Broker
) -> None:
    reward_id = new_reward(runtime.db, tenant, codes=2)
    first = accept(runtime.db, tenant, reward_id, "first").resource_id or ""
    assert queue.wake() is True  # the task for the first claim
    queue.answered()  # that task starts
    assert runtime.redis.get(queue.doorbell) == b"lingering"

    # A claim recorded while the task's first batch runs leaves a token, not a second task.
    second = accept(runtime.db, tenant, reward_id, "second").resource_id or ""
    assert queue.wake() is False
    assert runtime.redis.llen(queue.wake_list) == 1

    report = drain_lingering(drain(runtime), queue, linger_ms=50, lingering=True)
    assert report.decided >= 2  # claims other tests left pending share the database
    assert {status(runtime, first), status(runtime, second)} == {"succeeded"}
    assert broker.drain_tasks() == 1  # the first claim's only
    assert runtime.redis.exists(queue.doorbell, queue.wake_list) == 0


def test_an_api_process_that_does_not_linger_still_wakes_a_drain_that_does(
    runtime: Runtime, tenant: TestTenant, queue: ClaimQueue, broker: Broker
) -> None:
    api_side = ClaimQueue(broker.celery, runtime.redis, namespace="", linger_ms=0)
    api_side.doorbell, api_side.wake_list = queue.doorbell, queue.wake_list  # same keys
    reward_id = new_reward(runtime.db, tenant, codes=1)
    assert queue.linger(again=False)

    accept(runtime.db, tenant, reward_id, "mixed")
    assert api_side.wake() is False  # no task: the token wakes the lingering drain
    assert queue.stop_lingering() == 1
    assert broker.drain_tasks() == 0


def test_a_lingering_drain_hands_over_after_its_linger_span_while_claims_keep_coming(
    runtime: Runtime, tenant: TestTenant, queue: ClaimQueue
) -> None:
    """A steady trickle keeps one task no longer than the handover span (a warm shutdown
    waits that long, not the 30 s budget); the task then sends a fresh one."""
    started = time.monotonic()
    with claims_every_20_ms(runtime, tenant, queue, prefix="trickle"):
        report = drain_lingering(drain(runtime), queue, linger_ms=100, handover_s=0.4)
    took = time.monotonic() - started
    assert report.out_of_time  # the caller sends a fresh task
    assert report.decided >= 5
    assert 0.4 <= took < 1.5, took  # not the 30 s budget
    assert runtime.redis.get(queue.doorbell) != b"lingering"
