"""The periodic sweep: nothing accepted is left behind by a lost message or a dead worker."""

from __future__ import annotations

from datetime import timedelta

from core.clock import utcnow
from core.runtime import get_runtime
from core.sweep import stale_pending_claims, stalled_campaigns
from workers.celery_app import SWEEP_TASK, app
from workers.queue import ClaimQueue


@app.task(name=SWEEP_TASK)
def sweep() -> bool:
    runtime = get_runtime()
    cutoff = utcnow() - timedelta(seconds=runtime.settings.sweep_interval_s)
    with runtime.db.transaction() as session:
        stale = stale_pending_claims(session, accepted_before=cutoff)
        stalled = stalled_campaigns(session, idle_since=cutoff)
    queue = ClaimQueue(app, runtime.redis)
    if stale:
        queue.wake(force=True)
    for campaign_id in stalled:
        queue.wake_campaign(campaign_id)
    return stale or bool(stalled)
