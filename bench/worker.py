"""3. Worker-only: the drain rate of claims recorded up front.

N pending claim requests (paid, one participant each, seeded with points) are
written as the API records them, then the worker is started, woken with one
drain task per process (what the API's doorbell sends), and the database is
polled until nothing is pending: claims/s = N / that time. Rows: 1 and 2
worker processes (Celery prefork concurrency) on one reward, and, when
`worker_spread_rewards` > 0, 2 processes with the claims spread over that many
rewards (batches of different rewards do not wait for one inventory row), and,
with `worker_new_participants`, 1 process on a free reward whose participants
have no row yet (the drain creates them).

Baseline: the ceiling (raw SQL claims/s) of this run.
"""

from __future__ import annotations

import time
from typing import Any

from bench import ceiling as ceiling_script
from bench.common import cpu_meter, failures
from bench.config import Context
from bench.infra import Stack, environment, log
from bench.report import Result
from bench.seed import Seeder, Tenant

COST = 100


def run(ctx: Context) -> Result:
    result = Result("worker-only")
    sizes = ctx.sizes
    ceil = ceiling_script.baseline(ctx, result)["claims_per_s"]
    n = sizes.worker_claims
    configs: list[tuple[int, int]] = [(p, 1) for p in sizes.worker_processes]
    if sizes.worker_spread_rewards > 1:
        configs.append((max(sizes.worker_processes), sizes.worker_spread_rewards))
    rows: dict[str, Any] = {}
    with environment("worker", ctx.logs) as (url, _redis, stack), Seeder(url) as seed:
        tenant = seed.tenant()
        seed.participants(tenant, prefix="w", count=n, balance=COST * 10)
        for processes, spread in configs:
            label = f"{processes} process(es), {spread} reward(s)"
            rewards = [
                seed.reward(tenant, name=f"{label} #{i}", codes=n // spread + 1, points_cost=COST)
                for i in range(spread)
            ]
            row = drain_rate(
                stack,
                seed,
                tenant,
                rewards=rewards,
                claims=n,
                processes=processes,
                key_prefix=f"w{processes}x{spread}-",
            )
            rows[label] = row
            log(f"worker-only {label}: {row['rate']:,.0f} claims/s ({row['seconds']:.2f} s)")
            if failures(row["outcomes"]):
                result.notes.append(f"{label}: outcomes {row['outcomes']}")
            result.add(
                f"drain, {label}",
                row["rate"],
                "claims/s",
                baseline_name="ceiling (raw SQL)",
                baseline=ceil,
            )
        if sizes.worker_new_participants:
            # A free reward claimed by participants with no row yet: the drain creates them.
            label = "1 process(es), free reward, new participants"
            reward = seed.reward(tenant, name=label, codes=n + 1, points_cost=None)
            row = drain_rate(
                stack,
                seed,
                tenant,
                rewards=[reward],
                claims=n,
                processes=1,
                key_prefix="wnew-",
                participant_prefix="new",
            )
            rows[label] = row
            log(f"worker-only {label}: {row['rate']:,.0f} claims/s ({row['seconds']:.2f} s)")
            if failures(row["outcomes"]):
                result.notes.append(f"{label}: outcomes {row['outcomes']}")
    one = rows.get("1 process(es), 1 reward(s)")
    for label, row in rows.items():
        if one and label != "1 process(es), 1 reward(s)":
            result.add(
                f"drain, {label}",
                row["rate"],
                "claims/s",
                baseline_name="drain, 1 process, 1 reward",
                baseline=one["rate"],
            )
    result.extra["rows"] = rows
    result.extra["claims_per_row"] = n
    return result


def drain_rate(
    stack: Stack,
    seed: Seeder,
    tenant: Tenant,
    *,
    rewards: list[str],
    claims: int,
    processes: int,
    key_prefix: str,
    participant_prefix: str = "w",
    participant_offset: int = 0,
    restart: bool = True,
) -> dict[str, Any]:
    """Record `claims` pending requests, (re)start the worker, wake it, time the drain."""
    if restart:
        stack.stop("worker")
    seed.pending_claims(
        tenant,
        reward_ids=rewards,
        count=claims,
        participant_prefix=participant_prefix,
        participant_offset=participant_offset,
        key_prefix=key_prefix,
    )
    if "worker" not in stack.processes:
        stack.start_worker(concurrency=processes)
    meter = cpu_meter(stack, seed)
    meter.start()
    started, sent_at = time.monotonic(), time.time()
    stack.wake_drains(processes)
    drained = seed.wait_drained(timeout_s=600)
    cpu = meter.stop()
    seconds = drained - started
    outcomes = seed.outcomes(rewards, key_prefix=key_prefix)
    # decided_at is the start of the batch that decided a claim: the first one tells
    # how long the drain task took to arrive and begin.
    first = seed.scalar(
        "SELECT extract(epoch FROM min(c.decided_at)) FROM claims c"
        " JOIN idempotency_keys j ON j.id = c.idempotency_record_id"
        " WHERE c.reward_id = ANY(%s) AND starts_with(j.idempotency_key, %s)",
        (rewards, key_prefix),
    )
    return {
        "claims": claims,
        "seconds": round(seconds, 3),
        "wake_latency_s": round(float(first) - sent_at, 3) if first is not None else None,
        "rate": claims / seconds,
        "outcomes": outcomes,
        "claims_per_batch": seed.claims_per_batch(rewards),
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_ms_per_claim": {k: round(v * 1000 / claims, 3) for k, v in cpu.items()},
    }
