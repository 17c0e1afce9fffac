"""Telling a waiting API request that its claim was decided.

With Redis, the worker pushes each outcome onto a per-claim list after commit
and the API blocks on it (BLPOP): no polling, and an outcome pushed before the
API starts waiting is still there when it does. Without Redis the API polls
the claim's journal row with a growing interval, and so does a wait that finds
Redis unreachable: a storefront's claim still gets its 201 while Redis is down.
A wait never turns a recorded claim into an error: when the database goes away
mid-wait too, the answer is the 202 the claim already earned.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select

from core.claims.outcome import Outcome
from core.db import Database, is_transient
from core.metrics import RedisClaimStats
from core.models import IdempotencyRecord

log = logging.getLogger("coffer.notify")
_OUTCOME_TTL_S = 120
_POLL_FIRST_S, _POLL_MAX_S = 0.005, 0.1


@dataclass(frozen=True)
class Notice:
    """A claim's outcome as a waiting request receives it: HTTP status and body."""

    status: int
    body: dict[str, Any]


class OutcomeWaiter(Protocol):
    def wait(self, *, claim_id: str, record_id: int, timeout_s: float) -> Notice | None: ...


class RedisOutcomes:
    """Publishes outcomes onto per-claim lists and waits on them."""

    def __init__(
        self,
        redis: Any,
        *,
        blocking: Any = None,
        fallback: PolledOutcomes | None = None,
        namespace: str = "coffer",
    ) -> None:
        self.redis = redis
        # BLPOP holds its connection for the whole wait, so it gets a client whose socket
        # timeout outlasts the longest wait (a short one would cut every long wait).
        self.blocking = blocking if blocking is not None else redis
        self.fallback = fallback  # polls the database when Redis cannot be reached
        self.namespace = namespace

    def _key(self, claim_id: str) -> str:
        return f"{self.namespace}:claim-outcome:{claim_id}"

    def publish(self, outcomes: list[Outcome]) -> None:
        try:
            pipe = self.redis.pipeline(transaction=False)
            self.queue(pipe, outcomes)
            pipe.execute()
        except Exception:  # waiters fall back to 202; the outcome is safe in the database
            log.exception("could not notify waiting claim requests")

    def queue(self, pipe: Any, outcomes: list[Outcome]) -> None:
        """Add each outcome's notice to a Redis pipeline the caller executes."""
        for outcome in outcomes:
            key = self._key(outcome.claim_id)
            pipe.rpush(key, json.dumps({"status": outcome.response_status, "body": outcome.body}))
            pipe.expire(key, _OUTCOME_TTL_S)

    def wait(self, *, claim_id: str, record_id: int, timeout_s: float) -> Notice | None:
        if timeout_s <= 0:
            return None
        deadline = time.monotonic() + timeout_s
        try:
            item = self.blocking.blpop([self._key(claim_id)], timeout=timeout_s)
        except Exception as error:
            if self.fallback is None:
                log.warning("waiting on Redis failed (%s); answering 202", type(error).__name__)
                return None
            log.warning("waiting on Redis failed (%s); polling instead", type(error).__name__)
            remaining = deadline - time.monotonic()
            return self.fallback.wait(claim_id=claim_id, record_id=record_id, timeout_s=remaining)
        if item is None:
            return self._last_look(record_id)
        payload = json.loads(item[1])
        return Notice(payload["status"], payload["body"])

    def _last_look(self, record_id: int) -> Notice | None:
        """The wait ran out without a notice: read the claim's row once before answering
        202. A notice can be lost while its claim is decided (the worker's push failed, or
        Redis restarted without persistence between the push and the wait), and only a
        claim still pending is answered 202 (CONTRACT §6)."""
        if self.fallback is None:
            return None
        try:
            return self.fallback.read(record_id)
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning("outcome read failed (%s); answering 202", type(error).__name__)
            return None


class PolledOutcomes:
    """Polls the request row with a growing interval; publishing is a no-op."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def publish(self, outcomes: list[Outcome]) -> None:
        return None

    def wait(self, *, claim_id: str, record_id: int, timeout_s: float) -> Notice | None:
        if timeout_s <= 0:  # as RedisOutcomes: no wait means no read (202 at once is at once)
            return None
        deadline = time.monotonic() + timeout_s
        interval = _POLL_FIRST_S
        while True:
            try:
                notice = self.read(record_id)
            except Exception as error:
                if not is_transient(error):
                    raise
                log.warning("outcome poll failed (%s); answering 202", type(error).__name__)
                return None
            remaining = deadline - time.monotonic()
            if notice is not None or remaining <= 0:
                return notice
            time.sleep(min(interval, remaining))
            interval = min(interval * 2, _POLL_MAX_S)

    def read(self, record_id: int) -> Notice | None:
        with self.db.transaction() as session:
            row = session.execute(
                select(IdempotencyRecord.response_status, IdempotencyRecord.response_body).where(
                    IdempotencyRecord.id == record_id
                )
            ).one()
        if row.response_status is None:
            return None
        return Notice(row.response_status, row.response_body)


class NoticesAndCounts:
    """A committed batch's notices to waiting requests and its /metrics counts, sent in one
    Redis round trip (a drain sent two pipelines per batch: a one-claim batch's fixed cost,
    issue 11). Notices go first in the pipeline. `record` is then a no-op for the counts."""

    def __init__(self, notices: RedisOutcomes, counts: RedisClaimStats) -> None:
        self.notices, self.counts = notices, counts

    def publish(self, outcomes: list[Outcome]) -> None:
        try:
            pipe = self.notices.redis.pipeline(transaction=False)
            self.notices.queue(pipe, outcomes)
            self.counts.queue(pipe, outcomes)
            pipe.execute()
        except Exception:  # waiters fall back to 202, /metrics misses a batch: both survive
            log.exception("could not notify waiting claim requests and count their outcomes")

    @staticmethod
    def combine(publisher: object, stats: object) -> NoticesAndCounts | None:
        """The one-trip announcer when both go to the same Redis, else None."""
        if (
            isinstance(publisher, RedisOutcomes)
            and isinstance(stats, RedisClaimStats)
            and publisher.redis is stats.redis
        ):
            return NoticesAndCounts(publisher, stats)
        return None
