"""Webhook delivery tasks and lanes: thin, the rules are in core.webhooks.

Deliveries go out in rounds per endpoint (core.webhooks.dispatch), started
in one of two ways:

- Inside a worker task (a claim drain or campaign chunk that relays its own
  facts right after its commit, the relay task, the periodic job), the
  endpoints are offered to this process's delivery lanes (core.webhooks.lanes):
  threads that run rounds beside the task, so a delivery never waits for a
  task slot that a long drain holds.
- Elsewhere (the API: a manual retry), as Celery tasks: `deliver` (one
  delivery: its endpoint's rounds) and `deliver_to` (an endpoint's rounds).
  An endpoint has a doorbell in Redis, a key set with NX, and only the
  sender that sets it sends a `deliver_to`; the task clears it as it starts,
  before it leases anything, so a delivery committed after that rings again.
  The key expires (DOORBELL_TTL_MS): a lost message only delays the endpoint
  until the next ring or the periodic job.

`deliver_due` runs every second from beat and offers every endpoint with due
deliveries no one holds. No countdown or ETA is ever used: the schedule is
each delivery's next_attempt_at in the database, and the lease there (one
round of one holder per endpoint) is what keeps two attempts of a delivery
from overlapping, whichever lane, task or process runs them.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from celery import current_task
from celery.signals import worker_process_shutdown

from core.clock import utcnow
from core.metrics import delivery_stats
from core.runtime import get_runtime
from core.webhooks.dispatch import (
    ROUND_BUDGET_S,
    DeliveryPolicy,
    deliver_endpoint,
    endpoint_of,
    queue_due_endpoints,
)
from core.webhooks.lanes import Lanes
from core.webhooks.relay import BATCH as RELAY_BATCH
from core.webhooks.relay import relay
from workers.celery_app import (
    DELIVER_ENDPOINT_TASK,
    DELIVER_TASK,
    DUE_DELIVERIES_TASK,
    RELAY_TASK,
    app,
)

log = logging.getLogger("coffer.webhooks")
TIME_LIMIT_MARGIN_S = 15  # below the lease margin (core.webhooks.deliveries.LEASE_MARGIN)
DOORBELL_TTL_MS = 2000
RELAY_INLINE_BUDGET_S = 1.0  # a task relaying its own facts stops after this; the sweep goes on
DOORBELL = "coffer:webhooks:endpoint-doorbell:{}"


@app.task(name=DELIVER_ENDPOINT_TASK)
def deliver_to(endpoint_pk: int) -> bool:
    _answer(get_runtime().redis, endpoint_pk)  # later deliveries ring again: before any lease
    more = run_endpoint(endpoint_pk)
    if more:
        send_endpoints([endpoint_pk], force=True)  # budget spent: a successor, behind other work
    return more


def run_endpoint(endpoint_pk: int) -> bool:
    """Rounds of one endpoint's due deliveries (core.webhooks.dispatch.deliver_endpoint), their
    outcomes counted for /metrics; True when its budget ran out with deliveries still due."""
    runtime = get_runtime()
    done = deliver_endpoint(
        runtime.db, endpoint_pk=endpoint_pk, policy=DeliveryPolicy.from_settings(runtime.settings)
    )
    if done.outcomes:
        delivery_stats(runtime.redis).record(dict(done.outcomes))
    if done.outcomes.get("failed"):
        wake_relay()  # a final failure may have appended fulfillment facts (CONTRACT §7)
    return done.more


class _ProcessLanes:
    """This worker process's delivery lanes; a forked child builds its own."""

    lock = threading.Lock()
    lanes: Lanes | None = None
    pid: int | None = None


def process_lanes() -> Lanes:
    with _ProcessLanes.lock:
        if _ProcessLanes.lanes is None or _ProcessLanes.pid != os.getpid():
            _ProcessLanes.lanes, _ProcessLanes.pid = Lanes(run_endpoint), os.getpid()
        return _ProcessLanes.lanes


@worker_process_shutdown.connect
def _finish_rounds(**_: object) -> None:
    """A worker process shutting down (warm) lets its lanes' rounds under way end and be
    recorded, so a restart repeats no attempt that was made; it starts no new one. A
    hard kill leaves the leases to run out instead (the attempt is then made again)."""
    lanes = _ProcessLanes.lanes
    if lanes is not None and _ProcessLanes.pid == os.getpid():
        lanes.stop(ROUND_BUDGET_S + get_runtime().settings.webhook_timeout_s)


def _in_task() -> bool:
    return bool(current_task and current_task.request.id is not None)


@app.task(name=DELIVER_TASK)
def deliver(delivery_pk: int) -> bool:
    endpoint_pk = endpoint_of(get_runtime().db, delivery_pk)
    return False if endpoint_pk is None else deliver_to(endpoint_pk)


@app.task(name=DUE_DELIVERIES_TASK)
def deliver_due() -> int:
    runtime = get_runtime()
    policy = DeliveryPolicy.from_settings(runtime.settings)
    with runtime.db.transaction() as session:
        endpoints = queue_due_endpoints(session, now=utcnow(), per_endpoint=policy.per_endpoint)
    send_endpoints(endpoints)
    return len(endpoints)


def time_limit() -> float:
    """The hard time limit of a delivery task: its last round may start at the budget's end.

    It backs up the HTTP timeouts (which bound each read, not a receiver that
    trickles bytes) and ends the task before that round's lease runs out, so
    no second attempt of the same delivery can overlap it.
    """
    return ROUND_BUDGET_S + get_runtime().settings.webhook_timeout_s + TIME_LIMIT_MARGIN_S


def send_endpoints(endpoint_pks: list[int], *, force: bool = False) -> None:
    """Start these endpoints' due deliveries: inside a worker task on this process's lanes,
    elsewhere as a `deliver_to` task per endpoint whose doorbell this rings (each one, with
    `force`). A send that fails is left to the periodic job."""
    if _in_task():
        process_lanes().offer(endpoint_pks)
        return
    redis = get_runtime().redis
    limit = time_limit()
    for pk in endpoint_pks:
        try:
            if force or _ring(redis, pk):
                app.send_task(DELIVER_ENDPOINT_TASK, args=(pk,), time_limit=limit)
        except Exception:
            log.warning("could not enqueue deliveries; the periodic job will", exc_info=True)
            _answer(redis, pk)
            return


def _ring(redis: Any | None, endpoint_pk: int) -> bool:
    """True when no `deliver_to` of this endpoint is on its way (so the caller sends one)."""
    if redis is None:
        return True
    return bool(redis.set(DOORBELL.format(endpoint_pk), "1", nx=True, px=DOORBELL_TTL_MS))


def _answer(redis: Any | None, endpoint_pk: int) -> None:
    if redis is None:
        return
    try:
        redis.delete(DOORBELL.format(endpoint_pk))
    except Exception:  # the key expires on its own
        log.warning("could not clear an endpoint doorbell", exc_info=True)


def send_deliveries(delivery_pks: list[int]) -> None:
    """One `deliver` task per delivery (a manual retry); the periodic job if the send fails."""
    limit = time_limit()
    for pk in delivery_pks:
        try:
            app.send_task(DELIVER_TASK, args=(pk,), time_limit=limit)
        except Exception:
            log.warning("could not enqueue a delivery; the periodic job will", exc_info=True)
            return


def wake_relay() -> None:
    """Relay after a commit that wrote facts. Never raises: the sweep is the fallback.

    Inside a worker task the facts are relayed here and now (their first
    attempts are then sent as tasks); elsewhere (the API) the relay task is
    sent.
    """
    if _in_task():
        try:
            relayed = relay(
                get_runtime().db, on_endpoints=send_endpoints, budget_s=RELAY_INLINE_BUDGET_S
            )
            if relayed < RELAY_BATCH:
                return  # all pending facts relayed; else the relay task goes on with the rest
        except Exception:
            log.warning("could not relay facts after commit; sending the relay", exc_info=True)
    try:
        app.send_task(RELAY_TASK)
    except Exception:
        log.warning("could not enqueue the facts relay; the sweep will", exc_info=True)


class CeleryDeliveryQueue:
    """core.webhooks.dispatch.DeliveryQueue on this Celery app."""

    def wake_relay(self) -> None:
        wake_relay()

    def send(self, delivery_pks: list[int]) -> None:
        send_deliveries(delivery_pks)

    def send_endpoints(self, endpoint_pks: list[int]) -> None:
        send_endpoints(endpoint_pks)
