"""Driving the claim core directly (as the API and the worker do), for integration tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select

from core.catalog import create_reward
from core.claims.accept import KnownRewards, accept_claim
from core.claims.drain import Drain
from core.db import Database
from core.idempotency import Recorded
from core.inputs import ClaimBody, CodeUpload, PointsCredit, RewardDefinition
from core.inventory import upload_codes
from core.models import Claim, IdempotencyRecord, LedgerEntry, Participant
from core.notify import PolledOutcomes
from core.points import credit_points
from tests.support.tenants import TestTenant


def new_reward(db: Database, tenant: TestTenant, *, codes: int = 0, **fields: Any) -> str:
    definition = RewardDefinition.model_validate({"name": "Coupon", "type": "coupon", **fields})
    with db.transaction() as session:
        reward_id = create_reward(session, principal=tenant.principal(), definition=definition).id
        if codes:
            upload = CodeUpload(codes=[f"{reward_id}-{n:07d}" for n in range(1, codes + 1)])
            upload_codes(session, principal=tenant.principal(), reward_id=reward_id, upload=upload)
    return reward_id


def credit(db: Database, tenant: TestTenant, participant: str, amount: int) -> None:
    with db.transaction() as session:
        credit_points(
            session, principal=tenant.principal(), external_id=participant,
            credit=PointsCredit(amount=amount), key=uuid.uuid4().hex, print_=uuid.uuid4().hex,
        )  # fmt: skip


def accept(
    db: Database, tenant: TestTenant, reward_id: str, participant: str, *,
    key: str | None = None, deduct: bool = False,
) -> Recorded:  # fmt: skip
    with db.transaction() as session:
        return accept_claim(
            session, principal=tenant.principal(), reward_id=reward_id,
            body=ClaimBody(participant_id=participant, points_deduction=deduct),
            key=key or uuid.uuid4().hex, path=f"/api/v1/gamify/rewards/{reward_id}/claim",
            request_id="test", known_rewards=KnownRewards(),
        )  # fmt: skip


def drain_all(db: Database) -> None:
    Drain(db, PolledOutcomes(db), batch_size=50).run()


def outcomes(db: Database, claim_ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """claim_id -> (status, stored response body)."""
    with db.transaction() as session:
        rows = session.execute(
            select(Claim.claim_id, Claim.status, IdempotencyRecord.response_body)
            .join(IdempotencyRecord, IdempotencyRecord.id == Claim.idempotency_record_id)
            .where(Claim.claim_id.in_(claim_ids))
        )
        return {row.claim_id: (row.status, row.response_body) for row in rows}


def balance_and_ledger(db: Database, tenant: TestTenant, participant: str) -> tuple[int, int]:
    with db.transaction() as session:
        pk, balance = session.execute(
            select(Participant.id, Participant.balance).where(
                Participant.tenant_id == tenant.id, Participant.mode == "live",
                Participant.external_id == participant,
            )
        ).one()  # fmt: skip
        ledger = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.participant_id == pk
            )
        )
    return balance, int(ledger or 0)


def claim_rows(db: Database, reward_id: str) -> list[Claim]:
    with db.transaction() as session:
        held = select(Claim).where(Claim.reward_id == reward_id, Claim.status == "succeeded")
        return list(session.scalars(held))


@contextmanager
def draining(db: Database, *, workers: int = 4) -> Iterator[None]:
    """Drains racing each other for the whole block (as several worker processes would),
    and one last drain after it, so every claim accepted inside is decided on exit."""
    stop = threading.Event()

    def keep_draining() -> None:
        while not stop.is_set():
            drain_all(db)

    threads = [threading.Thread(target=keep_draining) for _ in range(workers)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    drain_all(db)
