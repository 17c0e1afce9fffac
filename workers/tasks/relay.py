"""The outbox relay task: thin, the rules are in core.webhooks.relay.

Sent after a commit that wrote facts (a claim batch, a reversal) and by beat
every COFFER_SWEEP_INTERVAL_S as the safety net. A relay finding nothing
pending costs one indexed query.
"""

from __future__ import annotations

import logging

from celery import Celery

from core.runtime import get_runtime
from core.webhooks.relay import relay
from workers.celery_app import RELAY_TASK, app
from workers.tasks.webhooks import send_deliveries

log = logging.getLogger("coffer.webhooks")


@app.task(name=RELAY_TASK)
def relay_facts() -> int:
    return relay(get_runtime().db, on_committed=send_deliveries)


def wake_relay(celery: Celery = app) -> None:
    """Ask for a relay after a commit that wrote facts. Never raises: the sweep is the fallback."""
    try:
        celery.send_task(RELAY_TASK)
    except Exception:
        log.warning("could not enqueue the facts relay; the sweep will", exc_info=True)
