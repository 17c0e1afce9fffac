"""2. End-to-end: claims over HTTP through gunicorn, Celery, PostgreSQL and Redis.

Paid claims (`points_deduction: true` on a 100-point reward, participants
seeded with points), each with a unique Idempotency-Key and participant, at
fixed concurrency levels, for a fixed time each, one fresh reward per phase:

- async: `Prefer: respond-async` (202 at once); claims/s counts every claim
  recorded during the phase over the time until none is pending (the database
  is polled), so a worker that falls behind is charged for its backlog;
- sync: the default wait (201 when the worker answers in time): claims/s and
  latency percentiles as the client saw them.

Baselines from the same run: the ceiling (raw SQL claims/s, script 1) for
claims/s, and GET /healthz through the same gunicorn at the same concurrency
for request rate and latency (the cost of HTTP alone).
"""

from __future__ import annotations

from typing import Any

from bench import ceiling as ceiling_script
from bench import loadgen
from bench.common import Phase, claims_phase, failures, start_stack
from bench.config import Context
from bench.infra import environment, log
from bench.report import Result, Target
from bench.seed import Seeder

COST = 100


def run(ctx: Context) -> Result:
    result = Result("end-to-end")
    sizes = ctx.sizes
    ceiling = ceiling_script.baseline(ctx, result)
    ceil = ceiling["claims_per_s"]
    per_phase = int(sizes.e2e_max_rate * sizes.e2e_secs) + 1000
    phases: dict[str, Any] = {}
    with environment("e2e", ctx.logs) as (url, _redis, stack), Seeder(url) as seed:
        tenant = seed.tenant()
        clients = sizes.e2e_clients
        rewards = {
            (kind, c): seed.reward(tenant, name=f"{kind} c{c}", codes=per_phase, points_cost=COST)
            for kind in ("warmup", "async", "sync")
            for c in (clients if kind != "warmup" else (8,))
        }
        seed.participants(tenant, prefix="p", count=per_phase, balance=COST * 10)
        log(f"seeded {len(rewards)} rewards x {per_phase:,} codes, {per_phase:,} participants")
        start_stack(ctx, stack)

        def phase(kind: str, c: int, *, seconds: float, prefer: str | None) -> Phase:
            return claims_phase(
                stack,
                seed,
                tenant,
                reward_id=rewards[(kind, c)],
                clients=c,
                seconds=seconds,
                prefer=prefer,
                key_prefix=f"{kind}-{c}-",
                participants=per_phase,
            )

        warm = phase("warmup", 8, seconds=sizes.e2e_warmup_secs, prefer="respond-async")
        log(f"warm-up: {warm.decided} claims")
        healthz = {}
        for c in clients:
            spec = loadgen.Claims(base_url=stack.base_url, path="/healthz", mode="get")
            healthz[c] = loadgen.run(spec, clients=c, seconds=sizes.e2e_healthz_secs)
            phases[f"healthz c={c}"] = healthz[c].as_dict()
        for c in clients:
            done = phase("async", c, seconds=sizes.e2e_secs, prefer="respond-async")
            phases[f"async c={c}"] = done.as_dict()
            log(
                f"async c={c}: {done.rate:,.0f} claims/s decided, "
                f"{done.load.count(202) / done.load.seconds:,.0f}/s accepted, "
                f"{done.claims_per_batch} claims/batch, cpu ms/claim {done.cpu_ms_per_claim()}"
            )
            _check(result, f"async c={c}", done, expect=202)
            result.add(
                f"async claims/s decided, {c} client(s)",
                done.rate,
                "claims/s",
                baseline_name="ceiling (raw SQL)",
                baseline=ceil,
            )
            result.add(
                f"async 202s/s accepted, {c} client(s)",
                done.load.count(202) / done.load.seconds,
                "req/s",
                baseline_name=f"GET /healthz, {c} client(s)",
                baseline=healthz[c].rate,
            )
        for c in clients:
            done = phase("sync", c, seconds=sizes.e2e_secs, prefer=None)
            phases[f"sync c={c}"] = done.as_dict()
            lat = done.load.latency_ms
            log(
                f"sync c={c}: {done.load.count(201) / done.load.seconds:,.0f} claims/s, "
                f"p50 {lat.get('p50', 0):.1f} p99 {lat.get('p99', 0):.1f} ms, "
                f"{done.claims_per_batch} claims/batch, cpu ms/claim {done.cpu_ms_per_claim()}"
            )
            _check(result, f"sync c={c}", done, expect=201)
            result.add(
                f"sync claims/s (201), {c} client(s)",
                done.load.count(201) / done.load.seconds,
                "claims/s",
                baseline_name="ceiling (raw SQL)",
                baseline=ceil,
            )
            base = healthz[c].latency_ms
            for p in ("p50", "p95", "p99"):
                result.add(
                    f"sync latency {p}, {c} client(s)",
                    lat.get(p),
                    "ms",
                    baseline_name=f"GET /healthz {p}, {c} client(s)",
                    baseline=base.get(p),
                )
    for label, phase in phases.items():
        if "cpu_ms_per_claim" in phase:
            cpu = ", ".join(f"{k} {v:.2f}" for k, v in phase["cpu_ms_per_claim"].items())
            result.notes.append(
                f"{label}: CPU ms per claim: {cpu}; {phase['claims_per_batch']} claims per batch"
            )
    result.extra["phases"] = phases
    result.extra["ceiling"] = {k: v for k, v in ceiling.items() if k != "rows"}
    result.extra["loadgen"] = loadgen.tool()
    _targets(result, phases, ceil, clients)
    return result


def _check(result: Result, label: str, done: Phase, *, expect: int) -> None:
    unexpected = {k: v for k, v in done.load.statuses.items() if k != expect}
    failed = failures(done.outcomes)
    if unexpected or failed or done.load.errors:
        result.notes.append(
            f"{label}: HTTP statuses other than {expect}: {unexpected or 'none'}; "
            f"outcomes {done.outcomes}; socket errors {done.load.errors}"
        )


def _targets(result: Result, phases: dict[str, Any], ceil: float, clients: tuple[int, ...]) -> None:
    best_c = max(clients, key=lambda c: phases[f"async c={c}"]["rate"])
    best = phases[f"async c={best_c}"]["rate"]
    result.targets.append(
        Target(
            "end-to-end async claims/s / ceiling",
            best / ceil if ceil else None,
            0.5,
            higher_is_better=True,
            detail=f"{best:,.0f} at {best_c} clients vs ceiling {ceil:,.0f} claims/s",
        )
    )
    c8 = 8 if 8 in clients else min(clients, key=lambda c: abs(c - 8))
    p99 = phases[f"sync c={c8}"]["load"]["latency_ms"].get("p99")
    result.targets.append(
        Target(
            f"sync claim p99 ms at {c8} clients",
            p99,
            50.0,
            higher_is_better=False,
            detail=f"GET /healthz p99 "
            f"{phases[f'healthz c={c8}']['latency_ms'].get('p99', 0):.1f} ms at {c8} clients",
        )
    )
    _issue_11_targets(result, phases, clients)


def _issue_11_targets(result: Result, phases: dict[str, Any], clients: tuple[int, ...]) -> None:
    """Issue 11 item 4: the 1-client sync latency and the CPU a claim costs each side."""
    c1 = min(clients)
    sync1 = phases[f"sync c={c1}"]
    result.targets.append(
        Target(
            f"sync claim p50 ms at {c1} client(s)",
            sync1["load"]["latency_ms"].get("p50"),
            8.0,
            higher_is_better=False,
            detail=f"GET /healthz p50 "
            f"{phases[f'healthz c={c1}']['latency_ms'].get('p50', 0):.1f} ms at {c1} client(s)",
        )
    )
    busiest = phases[f"async c={max(clients)}"]
    api_ms = busiest["cpu_ms_per_claim"].get("api")
    result.targets.append(
        Target(
            f"API CPU ms per accepted claim (async, {max(clients)} clients)",
            api_ms,
            1.0,
            higher_is_better=False,
            detail="gunicorn process tree CPU over the phase / claims recorded",
        )
    )
    cpu = sync1["cpu_ms_per_claim"]
    both = cpu.get("worker", 0.0) + cpu.get("postgres", 0.0) if cpu else None
    result.targets.append(
        Target(
            f"worker + PostgreSQL CPU ms per claim, sync {c1} client(s)",
            both,
            4.0,
            higher_is_better=False,
            # The PostgreSQL figure is every backend of the database: the API's INSERT too.
            detail=f"worker {cpu.get('worker', 0):.2f} + PostgreSQL {cpu.get('postgres', 0):.2f}"
            f" ms; {sync1['claims_per_batch']} claims per batch (one-claim batches near 1.0)",
        )
    )
