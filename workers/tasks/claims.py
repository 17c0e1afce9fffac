"""The claim drain task: thin, the rules are in core.claims."""

from __future__ import annotations

from core.claims.drain import Drain
from core.runtime import get_runtime
from workers.celery_app import DRAIN_TASK, app
from workers.queue import ClaimQueue


@app.task(name=DRAIN_TASK, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def drain_claims() -> int:
    runtime = get_runtime()
    queue = ClaimQueue(app, runtime.redis)
    queue.answered()
    report = Drain(
        runtime.db,
        runtime.publisher,
        batch_size=runtime.settings.claim_batch_size,
        max_attempts=runtime.settings.claim_max_attempts,
        set_aside=runtime.set_aside,
        stats=runtime.stats,
    ).run()
    if report.out_of_time:
        queue.wake(force=True)  # let other work in between; a fresh task carries on
    return report.decided
