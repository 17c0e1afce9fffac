"""Prometheus metrics: claim outcomes and latency, queue depth, low stock, webhook deliveries.

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
from core.models import Campaign, Claim, Inventory, Reward, WebhookDelivery

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

# The values of `coffer_webhook_deliveries_total{outcome}`, one count per attempt made:
# `delivered` (a 2xx: the delivery is done), `retrying` (the attempt failed and another is
# scheduled), `failed` (the attempt failed and the schedule ran out: the delivery is failed).
DELIVERY_OUTCOMES = ("delivered", "retrying", "failed")


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
        try:
            pipe = self.redis.pipeline(transaction=False)
            self.queue(pipe, outcomes)
            pipe.execute()
        except Exception:  # metrics must never fail a batch that already committed
            log.warning("could not record claim metrics", exc_info=True)

    def queue(self, pipe: Any, outcomes: list[Outcome]) -> None:
        """Add the outcomes' counts to a Redis pipeline the caller executes."""
        by_outcome, buckets, total = _bucket_counts(outcomes)
        for label, count in by_outcome.items():
            pipe.hincrby(self.outcomes_key, label, count)
        for bound, count in buckets.items():
            pipe.hincrby(self.latency_key, bound, count)
        pipe.hincrbyfloat(self.latency_key, "sum", total)

    def snapshot(self) -> tuple[dict[str, int], dict[str, int], float]:
        outcomes = {k.decode(): int(v) for k, v in self.redis.hgetall(self.outcomes_key).items()}
        latency = {k.decode(): float(v) for k, v in self.redis.hgetall(self.latency_key).items()}
        total = latency.pop("sum", 0.0)
        return outcomes, {k: int(v) for k, v in latency.items()}, total


class DeliveryStats(Protocol):
    def record(self, outcomes: dict[str, int]) -> None: ...
    def snapshot(self) -> dict[str, int]: ...


class LocalDeliveryStats:
    """Webhook attempt outcomes counted in this process."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()

    def record(self, outcomes: dict[str, int]) -> None:
        self.outcomes.update(outcomes)

    def snapshot(self) -> dict[str, int]:
        return dict(self.outcomes)


class RedisDeliveryStats:
    """Webhook attempt outcomes in a Redis hash, shared by every API and worker process."""

    def __init__(self, redis: Any, *, namespace: str = "coffer") -> None:
        self.redis = redis
        self.key = f"{namespace}:metrics:webhook-deliveries"

    def record(self, outcomes: dict[str, int]) -> None:
        try:
            pipe = self.redis.pipeline(transaction=False)
            for label, count in outcomes.items():
                pipe.hincrby(self.key, label, count)
            pipe.execute()
        except Exception:  # metrics must never fail a round that already committed
            log.warning("could not record webhook delivery metrics", exc_info=True)

    def snapshot(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.redis.hgetall(self.key).items()}


_LOCAL_DELIVERIES = LocalDeliveryStats()  # without Redis: this process's own counts


def delivery_stats(redis: Any | None) -> DeliveryStats:
    """Where webhook delivery outcomes are counted: Redis when configured, else this process
    (right for `coffer serve`, where the API and the worker share it)."""
    return RedisDeliveryStats(redis) if redis is not None else _LOCAL_DELIVERIES


class CofferCollector(Collector):
    """Reads the claim and delivery stats and the database at scrape time."""

    def __init__(
        self,
        db: Database,
        stats: ClaimStats,
        broker_depth: Any = None,
        deliveries: DeliveryStats | None = None,
    ) -> None:
        self.db = db
        self.stats = stats
        self.broker_depth = broker_depth
        self.deliveries = deliveries or _LOCAL_DELIVERIES

    def collect(self) -> Iterator[Any]:
        yield from self._claims()
        yield from self._database()
        yield from self._deliveries()
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
            # The counts are kept exact per campaign (CONTRACT §8): no scan of its items.
            campaign_items = session.scalar(
                select(
                    func.coalesce(
                        func.sum(Campaign.total - Campaign.succeeded - Campaign.failed), 0
                    )
                ).where(Campaign.status == "running")
            )
        items = GaugeMetricFamily(
            "coffer_campaign_items_pending",
            "Participants of running campaigns whose claim is not decided yet",
        )
        items.add_metric([], int(campaign_items or 0))
        yield items
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

    def _deliveries(self) -> Iterator[Any]:
        counts = self.deliveries.snapshot()
        outcomes = CounterMetricFamily(
            "coffer_webhook_deliveries",
            "Webhook delivery attempts, by outcome: delivered (2xx, done), retrying (failed, "
            "another attempt is scheduled), failed (failed, the retry schedule ran out)",
            labels=["outcome"],
        )
        for label in DELIVERY_OUTCOMES:
            outcomes.add_metric([label], counts.get(label, 0))
        yield outcomes
        with self.db.transaction() as session:
            pending = session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status == "pending")  # the partial due index covers it
            )
        waiting = GaugeMetricFamily(
            "coffer_webhook_deliveries_pending",
            "Webhook deliveries not yet delivered or failed (due now or waiting for a retry)",
        )
        waiting.add_metric([], pending or 0)
        yield waiting


def bounded_outcomes(counts: dict[str, int]) -> dict[str, int]:
    """Every known outcome (zeros included), in CLAIM_OUTCOMES order; unknown ones as `other`."""
    bounded = {label: counts.get(label, 0) for label in CLAIM_OUTCOMES}
    other = sum(count for label, count in counts.items() if label not in bounded)
    if other:
        bounded["other"] = other
    return bounded
