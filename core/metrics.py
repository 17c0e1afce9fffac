"""Prometheus metrics: claim outcomes and latency, queue depth, available codes.

Claims are decided in worker processes but scraped from the API, so with
COFFER_REDIS_URL the counts live in Redis (one pipeline per batch). Without
Redis they live in this process, which is right for `coffer serve` (API and
worker share it); a multi-process deployment without Redis sees only its own.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from core.claims.outcome import Outcome
from core.clock import utcnow
from core.db import Database
from core.models import Claim, Inventory, Reward

log = logging.getLogger("coffer.metrics")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_MAX_REWARD_SERIES = 10_000


class ClaimStats(Protocol):
    def record(self, outcomes: list[Outcome]) -> None: ...
    def snapshot(self) -> tuple[dict[str, int], dict[str, int], float]: ...


def _bucket_counts(outcomes: list[Outcome]) -> tuple[Counter[str], Counter[str], float]:
    now = utcnow()
    by_outcome: Counter[str] = Counter(o.label for o in outcomes)
    buckets: Counter[str] = Counter()
    total = 0.0
    for outcome in outcomes:
        seconds = max((now - outcome.accepted_at).total_seconds(), 0.0)
        total += seconds
        for bound in LATENCY_BUCKETS:
            if seconds <= bound:
                buckets[str(bound)] += 1
        buckets["+Inf"] += 1
    return by_outcome, buckets, total


class LocalClaimStats:
    """Counts in this process."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.buckets: Counter[str] = Counter()
        self.latency_sum = 0.0

    def record(self, outcomes: list[Outcome]) -> None:
        by_outcome, buckets, total = _bucket_counts(outcomes)
        self.outcomes.update(by_outcome)
        self.buckets.update(buckets)
        self.latency_sum += total

    def snapshot(self) -> tuple[dict[str, int], dict[str, int], float]:
        return dict(self.outcomes), dict(self.buckets), self.latency_sum


class RedisClaimStats:
    """Counts in Redis hashes, shared by every API and worker process."""

    def __init__(self, redis: Any, *, namespace: str = "coffer") -> None:
        self.redis = redis
        self.outcomes_key = f"{namespace}:metrics:claims"
        self.latency_key = f"{namespace}:metrics:claim-latency"

    def record(self, outcomes: list[Outcome]) -> None:
        by_outcome, buckets, total = _bucket_counts(outcomes)
        try:
            pipe = self.redis.pipeline(transaction=False)
            for label, count in by_outcome.items():
                pipe.hincrby(self.outcomes_key, label, count)
            for bound, count in buckets.items():
                pipe.hincrby(self.latency_key, bound, count)
            pipe.hincrbyfloat(self.latency_key, "sum", total)
            pipe.execute()
        except Exception:  # metrics must never fail a batch that already committed
            log.warning("could not record claim metrics", exc_info=True)

    def snapshot(self) -> tuple[dict[str, int], dict[str, int], float]:
        outcomes = {k.decode(): int(v) for k, v in self.redis.hgetall(self.outcomes_key).items()}
        latency = {k.decode(): float(v) for k, v in self.redis.hgetall(self.latency_key).items()}
        total = latency.pop("sum", 0.0)
        return outcomes, {k: int(v) for k, v in latency.items()}, total


class CofferCollector(Collector):
    """Reads the claim stats and the database at scrape time."""

    def __init__(self, db: Database, stats: ClaimStats, broker_depth: Any = None) -> None:
        self.db = db
        self.stats = stats
        self.broker_depth = broker_depth

    def collect(self) -> Iterator[Any]:
        yield from self._claims()
        yield from self._database()
        messages = self.broker_depth() if self.broker_depth is not None else None
        if messages is not None:
            depth = GaugeMetricFamily(
                "coffer_queue_messages", "Messages waiting in the broker queue"
            )
            depth.add_metric([], messages)
            yield depth

    def _claims(self) -> Iterator[Any]:
        outcomes, buckets, total = self.stats.snapshot()
        claims = CounterMetricFamily(
            "coffer_claims", "Claims decided, by outcome", labels=["outcome"]
        )
        for label, count in sorted(outcomes.items()):
            claims.add_metric([label], count)
        yield claims
        latency = HistogramMetricFamily(
            "coffer_claim_latency_seconds", "From a claim's acceptance to its decision"
        )
        cumulative = [(str(b), buckets.get(str(b), 0)) for b in LATENCY_BUCKETS]
        latency.add_metric([], [*cumulative, ("+Inf", buckets.get("+Inf", 0))], total)
        yield latency

    def _database(self) -> Iterator[Any]:
        with self.db.transaction() as session:
            pending = session.scalar(
                select(func.count()).select_from(Claim).where(Claim.status == "pending")
            )
            rows = session.execute(
                select(
                    Reward.tenant_id,
                    Reward.mode,
                    Reward.id,
                    Inventory.uploaded_count - Inventory.allocated_count + Inventory.returned_count,
                )
                .join(Inventory, Inventory.reward_id == Reward.id)
                .where(Reward.deactivated_at.is_(None), Reward.code_length.is_(None))
                .order_by(Reward.id)
                .limit(_MAX_REWARD_SERIES)
            ).all()
        queue = GaugeMetricFamily("coffer_claims_pending", "Claims accepted and not yet decided")
        queue.add_metric([], pending or 0)
        yield queue
        codes = GaugeMetricFamily(
            "coffer_reward_available_codes", "Unallocated codes per active reward",
            labels=["tenant_id", "mode", "reward_id"],
        )  # fmt: skip
        for tenant_id, mode, reward_id, available in rows:
            codes.add_metric([tenant_id, mode, reward_id], available)
        yield codes
