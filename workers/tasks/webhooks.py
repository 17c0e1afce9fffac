"""Webhook delivery tasks: thin, the rules are in core.webhooks.

`deliver_to` works for one endpoint: rounds of its due deliveries, sent at
once over pooled connections, until none is due or its budget is spent (then
it sends its successor). Only one task holds an endpoint at a time, so a slow
endpoint never blocks the others. `deliver` (one delivery: a manual retry,
or a message from before rounds) runs its endpoint's rounds. `deliver_due`
runs every second from beat and sends a `deliver_to` for each endpoint with
due deliveries no task holds. No countdown or ETA is ever used: the schedule
is each delivery's next_attempt_at in the database.

Fewer messages (with Redis): an endpoint has a doorbell, a key set with NX,
and only the sender that sets it sends a `deliver_to`; the task clears it as
it starts, before it leases anything, so a delivery committed after that
rings again. A delivery committed while the bell is set is seen by the task
on its way. The key expires (DOORBELL_TTL_MS), so a lost message only delays
the endpoint until the next ring or the periodic job. Facts written inside a
worker task (a claim drain, a campaign chunk) are relayed by that task right
after its commit, one broker hop fewer; the API asks the relay task.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_task

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
def deliver_to(endpoint_pk: int) -> dict[str, int]:
    runtime = get_runtime()
    _answer(runtime.redis, endpoint_pk)  # later deliveries ring again: before any lease
    done = deliver_endpoint(
        runtime.db, endpoint_pk=endpoint_pk, policy=DeliveryPolicy.from_settings(runtime.settings)
    )
    if done.outcomes:
        delivery_stats(runtime.redis).record(dict(done.outcomes))
    if done.more:
        send_endpoints([endpoint_pk], force=True)  # budget spent: a successor, behind other work
    if done.outcomes.get("failed"):
        wake_relay()  # a final failure may have appended fulfillment facts (CONTRACT §7)
    return dict(done.outcomes)


@app.task(name=DELIVER_TASK)
def deliver(delivery_pk: int) -> dict[str, int] | None:
    endpoint_pk = endpoint_of(get_runtime().db, delivery_pk)
    return None if endpoint_pk is None else deliver_to(endpoint_pk)


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
    """A `deliver_to` task per endpoint whose doorbell this rings (each one, with `force`);
    a send that fails is left to the periodic job."""
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
    if current_task and current_task.request.id is not None:
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
