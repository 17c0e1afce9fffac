"""Prometheus metrics: claim outcomes and latency, queue depth, low-stock rewards.

Labels never carry tenant, participant or reward ids (CONTRACT §9): every label
has a fixed, small set of values, however many tenants there are, and nothing of
a tenant shows on an endpoint that needs no key. Per-reward stock is read through
the admin API and the inventory events.

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

# The values of `coffer_claims_total{outcome}`: `succeeded` or an error code a claim can
# end with (CONTRACT §3). Always exported, zeros included, so `processing_failed` (claims
# that failed for an internal fault after every attempt, §6) can be alerted on from the
# start. Anything else is counted as `other`: the label set stays bounded.
CLAIM_OUTCOMES = (
    "succeeded",
    "insufficient_points",
    "inventory_exhausted",
    "max_claims_exceeded",
    "reward_expired",
    "reward_inactive",
    "reward_not_found",
    "participant_not_found",
    "validation_error",
    "processing_failed",
)
MODES = ("live", "test")


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
            "coffer_claims",
            "Claims decided, by outcome: succeeded or the error code (processing_failed: "
            "failed for an internal fault after every attempt)",
            labels=["outcome"],
        )
        for label, count in bounded_outcomes(outcomes).items():
            claims.add_metric([label], count)
        yield claims
        latency = HistogramMetricFamily(
            "coffer_claim_latency_seconds", "From a claim's acceptance to its decision"
        )
        cumulative = [(str(b), buckets.get(str(b), 0)) for b in LATENCY_BUCKETS]
        latency.add_metric([], [*cumulative, ("+Inf", buckets.get("+Inf", 0))], total)
        yield latency

    def _database(self) -> Iterator[Any]:
        available = Inventory.uploaded_count - Inventory.allocated_count + Inventory.returned_count
        with self.db.transaction() as session:
            pending = session.scalar(
                select(func.count()).select_from(Claim).where(Claim.status == "pending")
            )
            low = dict(
                session.execute(
                    select(Reward.mode, func.count())
                    .join(Inventory, Inventory.reward_id == Reward.id)
                    .where(
                        Reward.deactivated_at.is_(None),
                        Reward.code_length.is_(None),  # generated codes never run out
                        Reward.multiplier_factor.is_(None),  # multipliers hold no codes
                        Reward.low_stock_threshold.is_not(None),
                        available <= Reward.low_stock_threshold,
                    )
                    .group_by(Reward.mode)
                ).all()
            )
        queue = GaugeMetricFamily("coffer_claims_pending", "Claims accepted and not yet decided")
        queue.add_metric([], pending or 0)
        yield queue
        stock = GaugeMetricFamily(
            "coffer_rewards_low_stock",
            "Active rewards with pre-loaded codes at or below their low_stock_threshold, by mode",
            labels=["mode"],
        )
        for mode in MODES:
            stock.add_metric([mode], low.get(mode, 0))
        yield stock


def bounded_outcomes(counts: dict[str, int]) -> dict[str, int]:
    """Every known outcome (zeros included), in CLAIM_OUTCOMES order; unknown ones as `other`."""
    bounded = {label: counts.get(label, 0) for label in CLAIM_OUTCOMES}
    other = sum(count for label, count in counts.items() if label not in bounded)
    if other:
        bounded["other"] = other
    return bounded
