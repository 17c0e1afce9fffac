"""4. Inventory scale: worker-only claims/s with 1,000 codes, 1,000,000 codes, and a
1,000,000-code reward 90% allocated.

One worker process. Rounds of `inventory_round_claims` pending claims (written
up front, then one drain task; timed until nothing is pending) alternate
between the small reward (a fresh 1,000-code reward each round) and the large
one, so both see the same machine; each figure is the median of its rounds.
Phase 1 alternates small / large (0% allocated); then the large reward is
allocated up to 90% as earlier drains would have left it (succeeded claims
with their journal rows for filler participants, the inventory counter moved, ANALYZE)
and phase 2 alternates small / large (90% allocated).

Baseline: the 1,000-code figure of the same phase.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.config import Context
from bench.infra import environment, log
from bench.report import Result, Target
from bench.seed import Seeder
from bench.worker import drain_rate

COST = 100


def run(ctx: Context) -> Result:
    result = Result("inventory")
    sizes = ctx.sizes
    n, rounds = sizes.inventory_round_claims, sizes.inventory_rounds
    small_codes, large_codes = sizes.inventory_small, sizes.inventory_large
    if n > small_codes:
        raise ValueError("inventory_round_claims must not exceed inventory_small")
    with environment("inventory", ctx.logs) as (url, _redis, stack), Seeder(url) as seed:
        tenant = seed.tenant()
        started = time.monotonic()
        large = seed.reward(tenant, name="large", codes=large_codes, points_cost=COST)
        upload_s = time.monotonic() - started
        log(f"uploaded {large_codes:,} codes in {upload_s:.1f} s (core.inventory.upload_codes)")
        result.extra["large_upload_s"] = round(upload_s, 2)
        seed.participants(tenant, prefix="i", count=2 * rounds * n, balance=COST * 1000)
        stack.start_worker(concurrency=1)
        offset = 0  # participants of the large reward are fresh each round
        phases: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for phase in ("0%", f"{sizes.inventory_allocated:.0%}"):
            if phase != "0%":
                started = time.monotonic()
                upto = int(large_codes * sizes.inventory_allocated)
                added = seed.allocate(tenant, reward_id=large, upto=upto)
                log(
                    f"allocated the large reward to {upto:,} ({added:,} filler claims) "
                    f"in {time.monotonic() - started:.0f} s"
                )
            runs: dict[str, list[dict[str, Any]]] = {"small": [], "large": []}
            for r in range(rounds):
                for which in ("small", "large") if r % 2 == 0 else ("large", "small"):
                    if which == "small":
                        reward = seed.reward(
                            tenant, name=f"small {phase} {r}", codes=small_codes, points_cost=COST
                        )
                        pid_offset = 0
                    else:
                        reward, pid_offset = large, offset
                        offset += n
                    row = drain_rate(
                        stack,
                        seed,
                        tenant,
                        rewards=[reward],
                        claims=n,
                        processes=1,
                        key_prefix=f"inv-{phase}-{which}-{r}-",
                        participant_prefix="i",
                        participant_offset=pid_offset,
                        restart=False,
                    )
                    runs[which].append(row)
                    if row["outcomes"].get("succeeded") != n:
                        result.notes.append(f"{phase} {which} round {r}: {row['outcomes']}")
                    if row["seconds"] > 5 * n / 1000:
                        result.notes.append(
                            f"slow round: {phase} {which} #{r}: {row['seconds']:.1f} s, "
                            f"drain began {row['wake_latency_s']} s after the wake, "
                            f"CPU s {row['cpu_s']}"
                        )
            phases[phase] = runs
            small = statistics.median(x["rate"] for x in runs["small"])
            big = statistics.median(x["rate"] for x in runs["large"])
            log(f"inventory {phase}: small {small:,.0f}, large {big:,.0f} claims/s")
            label = f"{large_codes:,} codes" + (f", {phase} allocated" if phase != "0%" else "")
            result.add(
                f"worker claims/s, {label}",
                big,
                "claims/s",
                baseline_name=f"{small_codes:,} codes (phase {phase})",
                baseline=small,
                note=f"median of {rounds} rounds of {n}",
            )
            result.targets.append(
                Target(
                    f"claims/s at {label} / at {small_codes:,} codes",
                    big / small,
                    0.9,
                    higher_is_better=True,
                    detail=f"{big:,.0f} vs {small:,.0f} claims/s",
                )
            )
    result.extra["phases"] = phases
    if large_codes < 1_000_000:
        result.notes.append(f"the large reward has {large_codes:,} codes (not 1,000,000)")
    return result
