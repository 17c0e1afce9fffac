"""Allocating a reward's codes to claims, and taking codes back (CONTRACT §6 guarantee 2, §7).

The inventory row of a reward is locked by whoever moves its counters, so
allocations of one reward are serialized. Codes come from three places, in
this order: codes a reversal returned (oldest first: they were handed out
before and are offered again first), uploaded codes by position (seq 1..N in
upload order, found by equality, so a million codes cost what a thousand do),
and, for rewards that generate codes, a fresh random code. Underneath, the
unique index `uq_claims_held_code` refuses any code held by two live claims.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from core.claims.codes import generate_code
from core.claims.planner import Grant
from core.claims.state import InventoryState
from core.db import insert_for
from core.models import Inventory, ReturnedCode, RewardCode

_GENERATION_ATTEMPTS = 5
Code = tuple[int | None, str]  # (reward_codes.id, value); no id for a multiplier's reference


def codes_for(session: Session, grants: list[Grant]) -> dict[int, Code]:
    """The code of each grant, by claim row id: returned, pooled or generated."""
    found: dict[int, Code] = {}
    by_reward: defaultdict[tuple[str, str], list[Grant]] = defaultdict(list)
    for grant in grants:
        by_reward[(grant.source, grant.reward.id)].append(grant)
    for (source, reward_id), group in by_reward.items():
        if source == "returned":
            found.update(_take_returned(session, reward_id, group))
        elif source == "pool":
            found.update(_pooled(session, reward_id, group))
        elif source == "reference":
            found.update({g.claim.claim_pk: (None, activation_reference(g)) for g in group})
        else:
            found.update(_generated(session, group))
    return found


def activation_reference(grant: Grant) -> str:
    """A points multiplier claim's code_value (CONTRACT §7): `MULT-` and the claim id's
    unique part, so it names the one activation and needs no inventory row."""
    return "MULT-" + grant.claim.claim_id.removeprefix("clm_").upper()


# Built once: a reused statement keeps its compiled form and cache key (issue 11).
_SAVE_COUNTERS = (
    update(Inventory)
    .where(Inventory.reward_id == bindparam("rid"))
    .values(
        allocated_count=bindparam("allocated"),
        returned_count=bindparam("returned"),
        low_stock_notified=bindparam("low"),
        exhausted_notified=bindparam("exhausted"),
    )
)


def save_counters(session: Session, inventories: Iterable[InventoryState]) -> None:
    """Write the counters and alert flags of the inventories a batch changed."""
    rows = [
        {
            "rid": i.reward_id,
            "allocated": i.allocated_count,
            "returned": i.returned_count,
            "low": i.low_stock_notified,
            "exhausted": i.exhausted_notified,
        }
        for i in inventories
    ]
    if rows:
        session.connection().execute(_SAVE_COUNTERS, rows)


def return_code(session: Session, *, inventory: Inventory, code_id: int, at: datetime) -> None:
    """Put a code a reversal freed back in front of the queue of codes to hand out.

    The caller holds the inventory row's lock and has already moved the claim
    that held the code out of `succeeded`, so the code has no live holder.
    """
    session.add(
        ReturnedCode(
            tenant_id=inventory.tenant_id,
            mode=inventory.mode,
            reward_id=inventory.reward_id,
            code_id=code_id,
            returned_at=at,
        )
    )
    inventory.returned_count += 1
    session.flush()


def _take_returned(session: Session, reward_id: str, grants: list[Grant]) -> dict[int, Code]:
    rows = (
        session.connection()
        .execute(
            select(ReturnedCode.id, RewardCode.id, RewardCode.value)
            .join(RewardCode, RewardCode.id == ReturnedCode.code_id)
            .where(ReturnedCode.reward_id == reward_id)
            .order_by(ReturnedCode.id)
            .limit(len(grants))
        )
        .all()
    )
    session.connection().execute(
        delete(ReturnedCode).where(ReturnedCode.id.in_([row[0] for row in rows]))
    )
    return {g.claim.claim_pk: (rows[g.position][1], rows[g.position][2]) for g in grants}


# Built once: a reused statement keeps its compiled form and cache key (issue 11).
_POOLED = select(RewardCode.seq, RewardCode.id, RewardCode.value).where(
    RewardCode.reward_id == bindparam("reward_id"),
    RewardCode.seq.between(bindparam("first"), bindparam("last")),
)


def _pooled(session: Session, reward_id: str, grants: list[Grant]) -> dict[int, Code]:
    seqs = [g.position for g in grants]
    rows = session.connection().execute(
        _POOLED, {"reward_id": reward_id, "first": min(seqs), "last": max(seqs)}
    )
    by_seq = {seq: (code_id, value) for seq, code_id, value in rows}
    return {g.claim.claim_pk: by_seq[g.position] for g in grants}


def _generated(session: Session, grants: list[Grant]) -> dict[int, Code]:
    insert_ = insert_for(session)
    found: dict[int, Code] = {}
    for grant in grants:
        reward = grant.reward
        for _ in range(_GENERATION_ATTEMPTS):  # a collision is ~1e-12 likely; retry it anyway
            value = generate_code(reward.code_prefix, reward.code_length or 8)
            code_id = (
                session.connection()
                .execute(
                    insert_(RewardCode)
                    .values(
                        tenant_id=reward.tenant_id,
                        mode=reward.mode,
                        reward_id=reward.id,
                        value=value,
                        seq=None,
                        created_at=grant.claimed_at,
                    )
                    .on_conflict_do_nothing(index_elements=["reward_id", "value"])
                    .returning(RewardCode.id)
                )
                .scalar_one_or_none()
            )
            if code_id is not None:
                found[grant.claim.claim_pk] = (code_id, value)
                break
        else:
            raise RuntimeError(f"could not generate a unique code for reward {reward.id}")
    return found
