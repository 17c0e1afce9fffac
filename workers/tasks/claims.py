"""The claim drain task: thin, the rules are in core.claims."""

from __future__ import annotations

from collections.abc import Callable

from core.claims.drain import Drain, OutcomeRecorder
from core.claims.linger import drain_lingering
from core.claims.outcome import Outcome
from core.notify import NoticesAndCounts
from core.runtime import get_runtime
from workers.celery_app import DRAIN_TASK, app
from workers.queue import ClaimQueue


@app.task(name=DRAIN_TASK, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def drain_claims() -> int:
    runtime = get_runtime()
    settings = runtime.settings
    queue = ClaimQueue(app, runtime.redis, linger_ms=settings.claim_linger_ms)
    queue.answered()
    # Notices and /metrics counts in one Redis round trip when both go to Redis.
    one_trip = NoticesAndCounts.combine(runtime.publisher, runtime.stats)
    drain = Drain(
        runtime.db,
        one_trip or runtime.publisher,
        batch_size=settings.claim_batch_size,
        max_attempts=settings.claim_max_attempts,
        set_aside=runtime.set_aside,
        stats=_RelayAfterCommit(None if one_trip else runtime.stats, runtime.webhooks.wake_relay),
    )
    if queue.lingers:
        report = drain_lingering(drain, queue, linger_ms=queue.linger_ms, lingering=True)
    else:
        report = drain.run()
    if report.out_of_time:
        queue.wake(force=True)  # let other work in between; a fresh task carries on
    return report.decided


class _RelayAfterCommit:
    """Records a committed batch's outcomes (after they are published), then asks for the
    relay of the facts the batch wrote."""

    def __init__(self, inner: OutcomeRecorder | None, wake_relay: Callable[[], None]) -> None:
        self.inner, self.wake_relay = inner, wake_relay  # inner None: counted when published

    def record(self, outcomes: list[Outcome]) -> None:
        if self.inner is not None:
            self.inner.record(outcomes)
        if any(outcome.status == "succeeded" for outcome in outcomes):
            self.wake_relay()  # only a succeeded claim writes facts
