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

from core.claims.batch import decide_and_write
from core.claims.failures import SetAside, count_failed_attempt
from core.claims.outcome import Outcome
from core.claims.pending import lock_pending
from core.clock import utcnow
from core.db import Database, is_transient
from core.points import MissingParticipants, ensure_participants
from core.timeline import OFF, Hops, begin

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

    def add(self, later: DrainReport) -> None:
        """Count a later run of the same task (a lingering drain runs several)."""
        self.decided += later.decided
        self.batches += later.batches
        self.set_aside.extend(later.set_aside)
        self.out_of_time = later.out_of_time


@dataclass
class Drain:
    """How this process drains: its database, where outcomes go, and its limits."""

    db: Database
    publisher: OutcomePublisher
    batch_size: int
    max_attempts: int = 10
    set_aside: SetAside = field(default_factory=SetAside)
    stats: OutcomeRecorder | None = None

    def run(self, *, budget_s: float = 30.0, woken_at: float | None = None) -> DrainReport:
        """Decide pending claims until none is left or the time budget is spent.

        When a batch fails for a non-transient reason (a bug, not a rule), the
        claims are retried one at a time to find the one that fails; it is
        counted an attempt and set aside, and full batches resume, so one bad
        claim never blocks the claims behind it. `woken_at`: a lingering drain
        woken by a claim (core/claims/linger.py) at that time; its batches' hop
        lines carry it as `woken` instead of `task_started`.
        """
        report = DrainReport()
        started = ("task_started", time.time()) if woken_at is None else ("woken", woken_at)
        deadline = time.monotonic() + budget_s
        singles_left = 0  # > 0 while hunting for the claim that broke a batch
        while time.monotonic() < deadline:
            limit = 1 if singles_left else self.batch_size
            hops = begin()
            hops.mark(started[0], at=started[1])
            try:
                outcomes = decide_next_batch(
                    self.db, limit=limit, exclude=self.set_aside.current(), hops=hops
                )
            except BatchFailed as failure:
                if singles_left:
                    self._isolated(failure.claim_pks, report)
                    singles_left = 0
                else:
                    singles_left = max(len(failure.claim_pks), 1)
                continue
            if not outcomes:
                return report
            singles_left = max(singles_left - 1, 0)
            self._announce(outcomes, hops)
            report.decided += len(outcomes)
            report.batches += 1
            if len(outcomes) < limit:
                # Nothing else was pending when this batch was taken, and every claim
                # recorded since this drain started has rung the doorbell again, so it
                # gets a drain of its own (or wakes this one if it lingers): no need for
                # one more (empty) transaction.
                return report
        report.out_of_time = True
        return report

    def _isolated(self, claim_pks: list[int], report: DrainReport) -> None:
        log.exception("a claim failed on its own for a fault", extra={"claim_pks": claim_pks})
        for pk in claim_pks:
            ended = count_failed_attempt(self.db, claim_pk=pk, max_attempts=self.max_attempts)
            if ended is not None:
                self._announce([ended])
                report.decided += 1
            else:
                self.set_aside.add([pk])
                report.set_aside.append(pk)

    def _announce(self, outcomes: list[Outcome], hops: Hops = OFF) -> None:
        self.publisher.publish(outcomes)
        hops.mark("notified")
        hops.emit("claim batch", request_ids=[outcome.request_id for outcome in outcomes])
        if self.stats is not None:
            self.stats.record(outcomes)
        _log_outcomes(outcomes)


def decide_next_batch(
    db: Database, *, limit: int, exclude: list[int], hops: Hops = OFF
) -> list[Outcome]:
    """One transaction deciding up to `limit` pending claims; retried on transient errors.
    `hops` gets the times the batch started, locked its claims, decided and committed."""
    for attempt in range(_TRANSIENT_ATTEMPTS):
        claim_pks: list[int] = []
        try:
            hops.mark("batch_started")
            with db.transaction() as session:
                claims = lock_pending(session, limit=limit, exclude=exclude)
                claim_pks = [claim.claim_pk for claim in claims]
                hops.mark("locked")
                outcomes = decide_and_write(session, claims, now=utcnow()) if claims else []
                hops.mark("decided")
            hops.mark("committed")
            return outcomes
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
                "request_id": outcome.request_id,
                "outcome": outcome.label,
            },
        )
