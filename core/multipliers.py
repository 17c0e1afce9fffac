"""Points multipliers (CONTRACT §7): which factor a points credit gets, and what it credits.

A succeeded (not reversed) claim of a points_multiplier reward activates its
reward's factor for the participant from the claim's claimed_at for
`duration_days` days: `claimed_at <= at < claimed_at + duration_days`.
Overlapping activations do not stack: the highest factor applies (ties go to
the earliest claim, so the choice is stable). A reversed claim is no longer
`succeeded`, so it stops applying at once. The factor and duration are read
from the reward definition at credit time (docs/multipliers.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Claim, Reward

# The longest duration a definition accepts (core/inputs.py Multiplier.duration_days).
MAX_DURATION = timedelta(days=3650)


@dataclass(frozen=True)
class Activation:
    """The multiplier in force: the claim that activated it and its factor."""

    claim_id: str
    factor: Decimal

    def apply(self, amount: int) -> int:
        """floor(amount * factor), exactly (Decimal): 7 points at 1.5 credit 10."""
        return math.floor(amount * self.factor)


def active(session: Session, *, participant_pk: int, at: datetime) -> Activation | None:
    """The highest factor active for the participant (row id) at `at`, or None."""
    rows = session.execute(
        select(Claim.claim_id, Claim.claimed_at, Reward.multiplier_factor, Reward.multiplier_days)
        .join(Reward, Reward.id == Claim.reward_id)
        .where(
            Claim.participant_id == participant_pk,
            Claim.status == "succeeded",
            Claim.reward_type == "points_multiplier",
            Claim.claimed_at > at - MAX_DURATION,
            Claim.claimed_at <= at,
            Reward.multiplier_factor.is_not(None),
        )
    ).all()
    live: list[tuple[Decimal, datetime, str]] = [
        (factor, claimed_at, claim_id)
        for claim_id, claimed_at, factor, days in rows
        if factor is not None
        and days is not None
        and claimed_at is not None
        and at < claimed_at + timedelta(days=days)
    ]
    if not live:
        return None
    # Highest factor first; among equal factors the earliest claim.
    factor, _, claim_id = min(live, key=lambda item: (-item[0], item[1], item[2]))
    return Activation(claim_id=claim_id, factor=factor)
