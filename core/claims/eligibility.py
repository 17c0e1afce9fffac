"""Eligibility: what a paid claim by one participant would meet right now (CONTRACT §4).

`GET /rewards?participant_id=PID` shows, per reward, whether a claim with
`points_deduction: true` would pass and, if not, the error code it would get.
It runs the claim planner's own checks (`ClaimPlanner.refusal`) on unlocked
snapshots, so it can never disagree with the rules a claim is decided by; it
is a forecast, not a reservation: a claim decided later meets the state then.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core import points
from core.claims import snapshots
from core.claims.planner import ClaimPlanner
from core.claims.state import PendingClaim
from core.clock import utcnow
from core.tenants import Principal


def eligibility(
    session: Session, *, principal: Principal, external_id: str, reward_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """reward id -> `{"eligible": bool, "reason": CODE | None, "claims_held": N}`."""
    if not reward_ids:
        return {}
    now = utcnow()
    rewards, inventories = snapshots.rewards_with_inventory(session, set(reward_ids), lock=False)
    key = (principal.tenant_id, principal.mode, external_id)
    account = points.read_account(session, key) or points.Account(-1, external_id, 0)
    planner = ClaimPlanner(
        rewards=rewards,
        inventories=inventories,
        participants={key: account},
        holdings=snapshots.holdings(session, [account], rewards),
        now=now,
    )
    verdicts = {}
    for reward_id in reward_ids:
        claim = PendingClaim(
            claim_pk=0,
            claim_id="",
            idempotency_record_id=0,
            tenant_id=principal.tenant_id,
            mode=principal.mode,
            reward_id=reward_id,
            participant_external_id=external_id,
            points_deduction=True,
            request_id=None,
            accepted_at=now,
        )
        refusal = planner.refusal(claim)
        verdicts[reward_id] = {
            "eligible": refusal is None,
            "reason": None if refusal is None else refusal.error.code,
            "claims_held": planner.held(account, reward_id),
        }
    return verdicts


def add_eligibility(
    session: Session, *, principal: Principal, external_id: str, entries: list[dict[str, Any]]
) -> None:
    """Give each catalog entry (CONTRACT §4 ENTRY) its `eligibility` for the participant."""
    verdicts = eligibility(
        session,
        principal=principal,
        external_id=external_id,
        reward_ids=[entry["id"] for entry in entries],
    )
    for entry in entries:
        entry["eligibility"] = verdicts[entry["id"]]
