"""What a claim request answers: the outcome if it arrives in time, else 202 (CONTRACT §6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.claims.responses import pending_body
from core.idempotency import Recorded
from core.notify import OutcomeWaiter


@dataclass(frozen=True)
class ClaimAnswer:
    status: int
    body: dict[str, Any]
    replayed: bool
    claim_id: str

    @property
    def pending(self) -> bool:
        return self.status == 202


def answer_claim(
    recorded: Recorded, *, fresh_waiter: OutcomeWaiter, replay_waiter: OutcomeWaiter, wait_s: float
) -> ClaimAnswer:
    """The stored response of a decided claim; else wait up to `wait_s` for the outcome.

    `wait_s` 0 (`Prefer: respond-async`) answers 202 at once without looking. A
    replay waits by polling so that it never takes the notice the original
    request is waiting for.
    """
    claim_id = recorded.resource_id or ""
    replayed = not recorded.fresh
    if recorded.is_final:
        return ClaimAnswer(
            recorded.response_status or 500, recorded.response_body or {}, replayed, claim_id
        )
    if wait_s <= 0:
        return ClaimAnswer(202, pending_body(claim_id), replayed, claim_id)
    waiter = fresh_waiter if recorded.fresh else replay_waiter
    notice = waiter.wait(claim_id=claim_id, record_id=recorded.id, timeout_s=wait_s)
    if notice is None:
        return ClaimAnswer(202, pending_body(claim_id), replayed, claim_id)
    return ClaimAnswer(notice.status, notice.body, replayed, claim_id)
