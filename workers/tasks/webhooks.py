"""Webhook delivery tasks: thin, the rules are in core.webhooks.

`deliver_to` works for one endpoint: rounds of its due deliveries, sent at
once over pooled connections, until none is due or its budget is spent (then
it sends its successor). Only one task holds an endpoint at a time, so a slow
endpoint never blocks the others. `deliver` (one delivery: a manual retry,
or a message from before rounds) runs its endpoint's rounds. `deliver_due`
runs every second from beat and sends a `deliver_to` for each endpoint with
due deliveries no task holds. No countdown or ETA is ever used: the schedule
is each delivery's next_attempt_at in the database.
"""

from __future__ import annotations

import logging

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
from workers.celery_app import (
    DELIVER_ENDPOINT_TASK,
    DELIVER_TASK,
    DUE_DELIVERIES_TASK,
    RELAY_TASK,
    app,
)

log = logging.getLogger("coffer.webhooks")
TIME_LIMIT_MARGIN_S = 15  # below the lease margin (core.webhooks.deliveries.LEASE_MARGIN)


@app.task(name=DELIVER_ENDPOINT_TASK)
def deliver_to(endpoint_pk: int) -> dict[str, int]:
    runtime = get_runtime()
    done = deliver_endpoint(
        runtime.db, endpoint_pk=endpoint_pk, policy=DeliveryPolicy.from_settings(runtime.settings)
    )
    if done.outcomes:
        delivery_stats(runtime.redis).record(dict(done.outcomes))
    if done.more:
        send_endpoints([endpoint_pk])  # the budget ran out: a successor, behind other work
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


def send_endpoints(endpoint_pks: list[int]) -> None:
    """One `deliver_to` task per endpoint; a send that fails is left to the periodic job."""
    limit = time_limit()
    for pk in endpoint_pks:
        try:
            app.send_task(DELIVER_ENDPOINT_TASK, args=(pk,), time_limit=limit)
        except Exception:
            log.warning("could not enqueue deliveries; the periodic job will", exc_info=True)
            return


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
    """Ask for a relay after a commit that wrote facts. Never raises: the sweep is the fallback."""
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
