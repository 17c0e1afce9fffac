"""Webhook delivery tasks: thin, the rules are in core.webhooks.

`deliver` makes one attempt of one delivery (its own task, so a slow endpoint
never blocks the others); `queue_due` runs every second from beat and sends a
`deliver` for each due delivery no task holds. No countdown or ETA is ever
used: the schedule is the delivery's next_attempt_at in the database.
"""

from __future__ import annotations

import logging

from core.clock import utcnow
from core.runtime import get_runtime
from core.webhooks.dispatch import DeliveryPolicy, attempt, queue_due
from workers.celery_app import DELIVER_TASK, DUE_DELIVERIES_TASK, RELAY_TASK, app

log = logging.getLogger("coffer.webhooks")
TIME_LIMIT_MARGIN_S = 15  # below the lease margin (core.webhooks.deliveries.LEASE_MARGIN)


@app.task(name=DELIVER_TASK)
def deliver(delivery_pk: int) -> str | None:
    runtime = get_runtime()
    done = attempt(
        runtime.db, delivery_pk=delivery_pk, policy=DeliveryPolicy.from_settings(runtime.settings)
    )
    if done is not None and done.next_pk is not None:
        send_deliveries([done.next_pk])
    if done is not None and done.outcome == "failed":
        wake_relay()  # a final failure may have appended fulfillment facts (CONTRACT §7)
    return done.outcome if done else None


@app.task(name=DUE_DELIVERIES_TASK)
def deliver_due() -> int:
    runtime = get_runtime()
    policy = DeliveryPolicy.from_settings(runtime.settings)
    with runtime.db.transaction() as session:
        due = queue_due(session, now=utcnow(), per_endpoint=policy.per_endpoint)
    send_deliveries(due)
    return len(due)


def send_deliveries(delivery_pks: list[int]) -> None:
    """One `deliver` task per delivery; a send that fails is left to the periodic job.

    The hard time limit backs up the HTTP timeouts (which bound each read, not
    a receiver that trickles bytes): it ends the attempt well before its lease
    runs out, so no second attempt of the same delivery can overlap it.
    """
    limit = get_runtime().settings.webhook_timeout_s + TIME_LIMIT_MARGIN_S
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
