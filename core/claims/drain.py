"""Draining pending claims: batch after batch until none is left.

A worker woken by the queue takes the oldest pending claims with SKIP LOCKED,
so any number of workers share the backlog and a claim is decided by exactly
one transaction. Whatever happens to a worker mid-batch, its transaction rolls
back and the claims are simply pending again for the next drain or sweep.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.exc import DBAPIError

from core.claims.batch import (
    MissingParticipants,
    Outcome,
    decide_and_write,
    ensure_participants,
    lock_pending,
)
from core.clock import utcnow
from core.db import Database, is_transient

log = logging.getLogger("coffer.claims")
_TRANSIENT_ATTEMPTS = 8


class OutcomePublisher(Protocol):
    def publish(self, outcomes: list[Outcome]) -> None: ...


class OutcomeRecorder(Protocol):
    def record(self, outcomes: list[Outcome]) -> None: ...


class BatchFailed(Exception):
    """A batch failed for a reason a retry will not cure; `claim_pks` were in it."""

    def __init__(self, claim_pks: list[int]) -> None:
        super().__init__(f"batch of {len(claim_pks)} claim(s) failed")
        self.claim_pks = claim_pks


@dataclass
class DrainReport:
    decided: int = 0
    batches: int = 0
    set_aside: list[int] = field(default_factory=list)
    out_of_time: bool = False


class SetAside:
    """Claims that failed for a non-transient reason, skipped by this process for a while.

    They stay pending (a bug must never decide a claim wrongly); the sweep and
    later drains try them again once the quarantine is over.
    """

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


_set_aside = SetAside()


def drain(
    db: Database,
    publisher: OutcomePublisher,
    *,
    batch_size: int,
    budget_s: float = 30.0,
    set_aside: SetAside = _set_aside,
    stats: OutcomeRecorder | None = None,
) -> DrainReport:
    """Decide pending claims until none is left or the time budget is spent.

    When a batch fails for a non-transient reason (a bug, not a rule), the
    claims are retried one at a time to find the one that fails; it is set
    aside and logged, and full batches resume, so one bad claim never blocks
    the claims behind it.
    """
    report = DrainReport()
    deadline = time.monotonic() + budget_s
    singles_left = 0  # > 0 while hunting for the claim that broke a batch
    while time.monotonic() < deadline:
        limit = 1 if singles_left else batch_size
        try:
            outcomes = decide_next_batch(db, limit=limit, exclude=set_aside.current())
        except BatchFailed as failure:
            if singles_left:
                log.exception(
                    "claim set aside after a non-transient failure",
                    extra={"request_pks": failure.claim_pks},
                )
                set_aside.add(failure.claim_pks)
                report.set_aside.extend(failure.claim_pks)
                singles_left = 0
            else:
                singles_left = max(len(failure.claim_pks), 1)
            continue
        if not outcomes:
            return report
        singles_left = max(singles_left - 1, 0)
        publisher.publish(outcomes)
        if stats is not None:
            stats.record(outcomes)
        _log_outcomes(outcomes)
        report.decided += len(outcomes)
        report.batches += 1
        if len(outcomes) < limit:
            # Nothing else was pending when this batch was taken, and every claim
            # recorded since this drain started has rung the doorbell again, so it
            # gets a drain of its own: no need for one more (empty) transaction.
            return report
    report.out_of_time = True
    return report


def decide_next_batch(db: Database, *, limit: int, exclude: list[int]) -> list[Outcome]:
    """One transaction deciding up to `limit` pending claims; retried on transient errors."""
    for attempt in range(_TRANSIENT_ATTEMPTS):
        claim_pks: list[int] = []
        try:
            with db.transaction() as session:
                claims = lock_pending(session, limit=limit, exclude=exclude)
                claim_pks = [claim.request_pk for claim in claims]
                return decide_and_write(session, claims, now=utcnow()) if claims else []
        except MissingParticipants as missing:
            with db.transaction() as session:
                ensure_participants(session, missing.keys)
        except DBAPIError as error:
            if not is_transient(error):
                raise BatchFailed(claim_pks) from error
            time.sleep(min(0.01 * 2**attempt, 1.0))
        except Exception as error:
            raise BatchFailed(claim_pks) from error
    raise BatchFailed([])


def _log_outcomes(outcomes: list[Outcome]) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    for outcome in outcomes:
        log.info(
            "claim decided",
            extra={
                "claim_id": outcome.claim_id,
                "request_id": outcome.trace_id,
                "outcome": outcome.error_code or outcome.status,
            },
        )
