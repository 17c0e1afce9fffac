"""The claim use case as the API runs it: record, wake a worker, wait for the outcome.

It talks to the queue and to the outcome notices only through the small
interfaces below, wired in the runtime, so the API needs no knowledge of
Celery or Redis and a test can wire its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from core.claims.accept import accept_claim
from core.claims.answer import ClaimAnswer, answer_claim
from core.inputs import ClaimBody
from core.tenants import Principal
from core.timeline import OFF, Hops

if TYPE_CHECKING:
    from core.runtime import Runtime


class Waker(Protocol):
    """The queue as the API sees it: ask a worker to drain pending claims (never raises:
    the sweep is the fallback), and report on the broker for /readyz and /metrics."""

    def wake(self, *, force: bool = False) -> bool: ...
    def wake_campaign(self, campaign_id: str) -> bool: ...
    def reachable(self) -> bool: ...
    def depth(self) -> int | None: ...


def claim_reward(
    runtime: Runtime,
    *,
    principal: Principal,
    reward_id: str,
    body: ClaimBody,
    key: str,
    path: str,
    request_id: str | None,
    wait_s: float,
    hops: Hops = OFF,
) -> ClaimAnswer:
    """POST /rewards/{id}/claim (CONTRACT §6): 201 or a business problem if decided within
    `wait_s` seconds, else 202 pending. Raises RewardNotFound (404) and
    IdempotencyKeyReused (422) before anything is recorded. `hops` gets the times it
    was recorded, enqueued and answered (core.timeline)."""
    with runtime.db.autocommit() as session:  # accepting is one statement on PostgreSQL
        recorded = accept_claim(
            session,
            principal=principal,
            reward_id=reward_id,
            body=body,
            key=key,
            path=path,
            request_id=request_id,
            known_rewards=runtime.known_rewards,
        )
    hops.mark("committed")
    if recorded.fresh:
        runtime.waker.wake()
        hops.mark("enqueued")
    answer = answer_claim(
        recorded, fresh_waiter=runtime.waiter, replay_waiter=runtime.poller, wait_s=wait_s
    )
    hops.mark("outcome")
    return answer
