"""The outbox relay task: thin, the rules are in core.webhooks.relay.

Sent after a commit that wrote facts (a claim batch, a reversal) and by beat
every COFFER_SWEEP_INTERVAL_S as the safety net. A relay finding nothing
pending costs one indexed query.
"""

from __future__ import annotations

from core.runtime import get_runtime
from core.webhooks.relay import relay
from workers.celery_app import RELAY_TASK, app
from workers.tasks.webhooks import send_endpoints


@app.task(name=RELAY_TASK)
def relay_facts() -> int:
    return relay(get_runtime().db, on_endpoints=send_endpoints)
