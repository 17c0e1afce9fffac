"""One batch of pending claims, decided and written in one transaction.

Lock order (every writer of these rows follows it, so batches never deadlock):
pending claims (SKIP LOCKED: a batch never waits for another's claims), then
inventories by reward id, then participants by row id. The planner then decides
each claim in acceptance order against the locked rows, exactly as running them
one at a time would, and the writer persists the decisions as a few statements.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from core import points
from core.claims import snapshots, writer
from core.claims.outcome import Outcome
from core.claims.planner import ClaimPlanner
from core.claims.state import PendingClaim


def decide_and_write(
    session: Session, claims: list[PendingClaim], *, now: datetime
) -> list[Outcome]:
    """Lock what the claims touch, decide each in order, and write every change.

    Raises points.MissingParticipants when a claim names a participant with no row
    yet (the caller creates them in a transaction of their own and runs it again).
    """
    rewards, inventories = snapshots.rewards_with_inventory(
        session, {c.reward_id for c in claims}, lock=True
    )
    participants = points.lock_accounts(session, {c.participant_key for c in claims})
    planner = ClaimPlanner(
        rewards=rewards,
        inventories=inventories,
        participants=participants,
        holdings=snapshots.holdings(session, participants.values(), rewards),
        now=now,
    )
    decisions = [planner.decide(claim) for claim in claims]
    return writer.write(session, decisions, inventories, participants.values(), now)
