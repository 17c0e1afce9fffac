"""Accepting a claim in the API: validate, record under the key, and say what to answer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import RewardNotFound
from core.idempotency import Recorded, fingerprint, record
from core.ids import new_id
from core.inputs import ClaimBody
from core.models import Reward
from core.tenants import Principal

# Rewards are deactivated, never deleted, so "this reward exists for this tenant
# and mode" never stops being true: remembering it saves a query per claim.
_known_rewards: set[tuple[str, str, str]] = set()
_KNOWN_REWARDS_MAX = 100_000


def accept_claim(
    session: Session,
    *,
    principal: Principal,
    reward_id: str,
    body: ClaimBody,
    key: str,
    path: str,
    trace_id: str | None,
) -> Recorded:
    """Record the claim request under its key (or find the one already there).

    Refusals that happen here (404 for an unknown reward, 422 for a reused key)
    do not consume the key; everything after recording is the worker's call.
    """
    _require_reward(session, principal=principal, reward_id=reward_id)
    print_ = fingerprint("POST", path, body.model_dump())
    values = {
        "kind": "claim",
        "status": "pending",
        "claim_id": new_id("clm"),
        "reward_id": reward_id,
        "participant_external_id": body.participant_id,
        "points_deduction": body.points_deduction,
        "trace_id": trace_id,
    }
    return record(session, principal=principal, key=key, print_=print_, values=values)


def _require_reward(session: Session, *, principal: Principal, reward_id: str) -> None:
    cache_key = (principal.tenant_id, principal.mode, reward_id)
    if cache_key in _known_rewards:
        return
    found = session.scalar(
        select(Reward.id).where(
            Reward.id == reward_id,
            Reward.tenant_id == principal.tenant_id,
            Reward.mode == principal.mode,
        )
    )
    if found is None:
        raise RewardNotFound(f"No reward {reward_id}")
    if len(_known_rewards) >= _KNOWN_REWARDS_MAX:
        _known_rewards.clear()
    _known_rewards.add(cache_key)
