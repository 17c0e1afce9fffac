"""Pieces the HTTP and worker benchmarks share: starting the stack, CPU accounting,
sending a fixed number of claims and waiting until they are all decided."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import loadgen
from bench.config import Context
from bench.infra import Stack, log
from bench.procmem import CpuMeter, process_tree
from bench.seed import Seeder, Tenant

CLAIM_PATH = "/api/v1/gamify/rewards/{}/claim"


def start_stack(ctx: Context, stack: Stack, *, api: bool = True, worker: bool = True) -> None:
    sizes = ctx.sizes
    stack.configure(claim_linger_ms=str(sizes.claim_linger_ms))
    if api:
        stack.start_api(
            workers=sizes.gunicorn_workers,
            threads=sizes.gunicorn_threads,
            worker_class=sizes.gunicorn_worker_class,
            server=sizes.api_server,
        )
    if worker:
        stack.start_worker(concurrency=sizes.worker_concurrency)
    log(
        "stack up: "
        + ", ".join(f"{name} pid {p.pid}" for name, p in stack.processes.items())
        + f" ({stack.base_url}, claim_linger_ms={sizes.claim_linger_ms})"
    )


def cpu_meter(stack: Stack, seed: Seeder) -> CpuMeter:
    """CPU of the API tree, the worker tree and this database's PostgreSQL backends."""

    def tree(name: str) -> Callable[[], list[int]]:
        return lambda: process_tree(stack.pid(name)) if name in stack.processes else []

    def backends() -> list[int]:
        rows = seed.pg.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
        return [row[0] for row in rows]

    return CpuMeter({"api": tree("api"), "worker": tree("worker"), "postgres": backends})


@dataclass
class Phase:
    """Claims sent over HTTP and then drained: what the load generator saw, the wall time
    until nothing was pending, and the CPU each piece spent."""

    load: loadgen.LoadResult
    wall_s: float  # from the first request until no claim is pending
    decided: int
    outcomes: dict[str, int]
    cpu_s: dict[str, float] = field(default_factory=dict)
    claims_per_batch: float | None = None

    @property
    def rate(self) -> float:
        return self.decided / self.wall_s if self.wall_s > 0 else 0.0

    def cpu_ms_per_claim(self) -> dict[str, float]:
        if not self.decided:
            return {}
        return {name: round(s * 1000 / self.decided, 3) for name, s in self.cpu_s.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "load": self.load.as_dict(),
            "wall_s": round(self.wall_s, 3),
            "decided": self.decided,
            "rate": round(self.rate, 1),
            "outcomes": self.outcomes,
            "claims_per_batch": self.claims_per_batch,
            "cpu_s": {k: round(v, 2) for k, v in self.cpu_s.items()},
            "cpu_ms_per_claim": self.cpu_ms_per_claim(),
        }


def claims_phase(
    stack: Stack,
    seed: Seeder,
    tenant: Tenant,
    *,
    reward_id: str,
    clients: int,
    seconds: float = 0,
    total: int = 0,
    prefer: str | None = "respond-async",
    key_prefix: str,
    participants: int,
    pid_prefix: str = "p",
    pid_offset: int = 0,
    drain_timeout_s: float = 600,
) -> Phase:
    spec = loadgen.Claims(
        base_url=stack.base_url,
        path=CLAIM_PATH.format(reward_id),
        token=tenant.server_key,
        prefer=prefer,
        key_prefix=key_prefix,
        participants=participants,
        pid_prefix=pid_prefix,
        pid_offset=pid_offset,
    )
    meter = cpu_meter(stack, seed)
    meter.start()
    started = time.monotonic()
    load = loadgen.run(spec, clients=clients, seconds=seconds, total=total)
    drained = seed.wait_drained(timeout_s=drain_timeout_s)
    time.sleep(0.2)  # a request still in flight when a timed run ended is recorded late
    if seed.pending():
        drained = seed.wait_drained(timeout_s=drain_timeout_s)
    cpu = meter.stop()
    cpu["loadgen"] = load.cpu_s
    outcomes = seed.outcomes([reward_id])
    decided = sum(n for label, n in outcomes.items() if label != "pending")
    batch = seed.claims_per_batch([reward_id])
    return Phase(load, drained - started, decided, outcomes, cpu, batch)


def failures(outcomes: dict[str, int]) -> int:
    return sum(n for label, n in outcomes.items() if label != "succeeded")
