"""`coffer check`: the invariants Coffer promises, verified in SQL over the whole database.

Each check is one query returning the rows that break it (CONTRACT §5, §6,
§7). A healthy database returns none; the chaos tests end by running them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.models import (
    Campaign,
    CampaignItem,
    Claim,
    Fact,
    Inventory,
    LedgerEntry,
    Participant,
    Reward,
)


@dataclass(frozen=True)
class Violation:
    check: str
    detail: str


Check = Callable[[Session, datetime], list[Violation]]


def balances_equal_ledgers(session: Session, now: datetime) -> list[Violation]:
    """Each participant's balance equals the sum of its ledger entries (§5)."""
    ledger = (
        select(LedgerEntry.participant_id, func.sum(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.participant_id)
        .subquery()
    )
    total = func.coalesce(ledger.c.total, 0)
    rows = session.execute(
        select(Participant.tenant_id, Participant.mode, Participant.external_id,
               Participant.balance, total)
        .outerjoin(ledger, ledger.c.participant_id == Participant.id)
        .where(Participant.balance != total)
    )  # fmt: skip
    return [
        Violation("balance_equals_ledger", f"{t}/{m} participant {p!r}: balance {b}, ledger {s}")
        for t, m, p, b, s in rows
    ]


def no_negative_balance(session: Session, now: datetime) -> list[Violation]:
    """No balance below zero (§5)."""
    rows = session.execute(
        select(Participant.tenant_id, Participant.mode, Participant.external_id,
               Participant.balance).where(Participant.balance < 0)
    )  # fmt: skip
    return [
        Violation("balance_non_negative", f"{t}/{m} participant {p!r}: {b}") for t, m, p, b in rows
    ]


def one_live_holder_per_code(session: Session, now: datetime) -> list[Violation]:
    """No code held by two live (succeeded) claims (§6 guarantee 2)."""
    shared = (
        select(Claim.code_id)
        .where(Claim.status == "succeeded", Claim.code_id.is_not(None))
        .group_by(Claim.code_id)
        .having(func.count() > 1)
    )
    holders: dict[int, list[str]] = {}
    query = select(Claim.code_id, Claim.claim_id).where(
        Claim.status == "succeeded", Claim.code_id.in_(shared)
    )
    for code_id, claim_id in session.execute(query):
        holders.setdefault(code_id or 0, []).append(claim_id)
    return [
        Violation("one_holder_per_code", f"code {code} held by {', '.join(ids)}")
        for code, ids in holders.items()
    ]


def claims_within_codes(session: Session, now: datetime) -> list[Violation]:
    """Held claims of a reward never exceed its codes unless it generates them (§6)."""
    held = (
        select(Claim.reward_id, func.count().label("held"))
        # A points multiplier's claim holds no code (its code_value is a MULT- reference).
        .where(Claim.status == "succeeded", Claim.code_id.is_not(None))
        .group_by(Claim.reward_id)
        .subquery()
    )
    rows = session.execute(
        select(Reward.id, held.c.held, Inventory.uploaded_count)
        .join(Inventory, Inventory.reward_id == Reward.id)
        .join(held, held.c.reward_id == Reward.id)
        .where(Reward.code_length.is_(None), held.c.held > Inventory.uploaded_count)
    )
    return [
        Violation("claims_within_codes", f"reward {r}: {h} held claims, {u} codes")
        for r, h, u in rows
    ]


def one_claimed_fact_per_success(session: Session, now: datetime) -> list[Violation]:
    """Every claim that succeeded has exactly one `reward.reward_claimed` fact (§6 guarantee 3)."""
    claimed = (
        select(Fact.data["claim_id"].as_string().label("claim_id"))
        .where(Fact.type == "reward.reward_claimed")
        .subquery()
    )
    facts = (
        select(claimed.c.claim_id, func.count().label("n")).group_by(claimed.c.claim_id).subquery()
    )
    count = func.coalesce(facts.c.n, 0)
    rows = session.execute(
        select(Claim.claim_id, count)
        .outerjoin(facts, facts.c.claim_id == Claim.claim_id)
        .where(Claim.status.in_(["succeeded", "reversed"]), count != 1)
    )
    return [Violation("one_fact_per_claim", f"claim {c}: {n} claimed facts") for c, n in rows]


def per_user_limits_held(session: Session, now: datetime) -> list[Violation]:
    """No participant holds more than max_claims_per_user claims of a reward (§6 guarantee 4)."""
    rows = session.execute(
        select(Claim.participant_external_id, Claim.reward_id, func.count(),
               Reward.max_claims_per_user)
        .join(Reward, Reward.id == Claim.reward_id)
        .where(Claim.status == "succeeded")
        .group_by(Claim.participant_external_id, Claim.tenant_id, Claim.mode, Claim.reward_id,
                  Reward.max_claims_per_user)
        .having(func.count() > Reward.max_claims_per_user)
    )  # fmt: skip
    return [
        Violation("per_user_limit", f"participant {p!r} holds {n} of reward {r} (limit {m})")
        for p, r, n, m in rows
    ]


def campaign_counts_equal_items(session: Session, now: datetime) -> list[Violation]:
    """Each campaign's counters equal its items (CONTRACT §8: exact at every moment)."""
    items = (
        select(
            CampaignItem.campaign_id,
            func.count().label("total"),
            func.count().filter(CampaignItem.status == "succeeded").label("succeeded"),
            func.count().filter(CampaignItem.status == "failed").label("failed"),
        )
        .group_by(CampaignItem.campaign_id)
        .subquery()
    )
    rows = session.execute(
        select(Campaign.id, Campaign.total, Campaign.succeeded, Campaign.failed,
               items.c.total, items.c.succeeded, items.c.failed)
        .join(items, items.c.campaign_id == Campaign.id)
        .where(
            (Campaign.total != items.c.total)
            | (Campaign.succeeded != items.c.succeeded)
            | (Campaign.failed != items.c.failed)
        )
    )  # fmt: skip
    return [
        Violation(
            "campaign_counts",
            f"campaign {c}: counts {t}/{s}/{f} (total/succeeded/failed), items {it}/{isu}/{ifa}",
        )
        for c, t, s, f, it, isu, ifa in rows
    ]


def no_stale_pending(max_age: timedelta) -> Check:
    """Every accepted claim is final or younger than `max_age` (§6 guarantee 5)."""

    def check(session: Session, now: datetime) -> list[Violation]:
        rows = session.execute(
            select(Claim.claim_id, Claim.accepted_at).where(
                and_(Claim.status == "pending", Claim.accepted_at < now - max_age)
            )
        )
        return [
            Violation("no_stale_pending", f"claim {c} pending since {at:%Y-%m-%dT%H:%M:%SZ}")
            for c, at in rows
        ]

    return check


def run_checks(session: Session, *, max_pending_age: timedelta) -> list[Violation]:
    """Every check, in order; the violations found (none on a healthy database)."""
    now = utcnow()
    checks: list[Check] = [
        balances_equal_ledgers,
        no_negative_balance,
        one_live_holder_per_code,
        claims_within_codes,
        one_claimed_fact_per_success,
        per_user_limits_held,
        campaign_counts_equal_items,
        no_stale_pending(max_pending_age),
    ]
    return [violation for check in checks for violation in check(session, now)]
