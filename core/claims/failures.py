"""Claims that fail for an internal fault, not a rule: counted, and ended after enough tries.

A claim whose batch fails for a reason a retry does not cure is isolated and
tried on its own; each failure on its own counts one attempt on the claim row.
It stays pending (a bug must never decide a claim wrongly) until it has failed
COFFER_CLAIM_MAX_ATTEMPTS times; then it ends `failed` with `processing_failed`
(CONTRACT §6), with nothing allocated or debited, so no claim is pending forever.
"""

from __future__ import annotations

import time

from sqlalchemy import update

from core import idempotency
from core.claims.outcome import Outcome
from core.clock import utcnow
from core.db import Database
from core.errors import ProcessingFailed
from core.models import Claim


class SetAside:
    """Claims this process skips for a while after they failed alone, so those behind them
    proceed; the sweep and later drains try them again once the quarantine is over."""

    def __init__(self, quarantine_s: float = 60.0) -> None:
        self.quarantine_s = quarantine_s
        self._until: dict[int, float] = {}

    def add(self, claim_pks: list[int]) -> None:
        until = time.monotonic() + self.quarantine_s
        self._until.update(dict.fromkeys(claim_pks, until))

    def current(self) -> list[int]:
        now = time.monotonic()
        self._until = {pk: until for pk, until in self._until.items() if until > now}
        return list(self._until)


def count_failed_attempt(db: Database, *, claim_pk: int, max_attempts: int) -> Outcome | None:
    """Count one failed attempt; at `max_attempts`, end the claim with `processing_failed`.

    Returns the outcome when the claim ended, None while it stays pending.
    """
    with db.transaction() as session:
        row = session.execute(
            update(Claim)
            .where(Claim.id == claim_pk, Claim.status == "pending")
            .values(attempts=Claim.attempts + 1)
            .returning(
                Claim.attempts,
                Claim.claim_id,
                Claim.idempotency_record_id,
                Claim.request_id,
                Claim.accepted_at,
            )
        ).one_or_none()
        if row is None or row.attempts < max_attempts:
            return None
        error = ProcessingFailed(
            f"The claim failed on each of {row.attempts} attempts for an internal fault; "
            "nothing was allocated or debited"
        )
        problem = error.problem()
        session.execute(
            update(Claim)
            .where(Claim.id == claim_pk)
            .values(status="failed", decided_at=utcnow(), error_code=error.code, error=problem)
        )
        idempotency.complete(
            session, record_id=row.idempotency_record_id, response_status=500, body=problem
        )
    return Outcome(
        row.claim_id, claim_pk, row.idempotency_record_id, "failed", 500, problem,
        row.request_id, error.code, row.accepted_at,
    )  # fmt: skip
