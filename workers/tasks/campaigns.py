"""The campaign task: one chunk, then the next chunk as a new message (thin: rules in core)."""

from __future__ import annotations

from core.campaigns.fanout import advance
from core.runtime import get_runtime
from workers.celery_app import CAMPAIGN_TASK, app
from workers.queue import ClaimQueue


@app.task(name=CAMPAIGN_TASK)
def advance_campaign(campaign_id: str) -> int:
    """Decide one chunk. The next chunk goes to the back of the queue, so storefront claim
    drains queued meanwhile run in between: a campaign never starves them."""
    runtime = get_runtime()
    report = advance(runtime.db, campaign_id=campaign_id)
    if report.outcomes:
        runtime.stats.record(report.outcomes)
    if report.decided:
        runtime.webhooks.wake_relay()  # the chunk wrote facts: claims, maybe campaign.completed
    if not report.finished:
        ClaimQueue(app, runtime.redis).wake_campaign(campaign_id)
    return report.decided
