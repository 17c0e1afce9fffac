"""Sizes of every benchmark (full and --quick), overridable with --set NAME=VALUE."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Sizes:
    # 1. ceiling: raw SQL claim transactions through pgbench
    ceiling_clients: tuple[int, ...] = (1, 2, 4, 8, 16)
    ceiling_secs: float = 10.0
    commit_secs: float = 3.0  # the bare-commit baseline, per client count
    ceiling_participants: int = 100_000
    # the reduced ceiling sweep a script takes when run without `ceiling`
    baseline_clients: tuple[int, ...] = (4, 8, 16)
    baseline_secs: float = 4.0
    # 2. end-to-end over HTTP
    e2e_clients: tuple[int, ...] = (1, 8, 32)
    e2e_secs: float = 10.0
    e2e_warmup_secs: float = 3.0
    e2e_healthz_secs: float = 3.0
    e2e_max_rate: int = 4000  # claims/s the codes and participants are sized for
    gunicorn_workers: int = 0  # 0: as gunicorn.conf.py says (2 gthread workers, 16 threads)
    gunicorn_threads: int = 0
    gunicorn_worker_class: str = ""  # "": as gunicorn.conf.py says (gthread); e.g. sync
    # "gunicorn" (production's), or "granian": the same app under granian's WSGI interface
    # (pip install granian; workers / threads above as its --workers / --blocking-threads)
    api_server: str = "gunicorn"
    worker_concurrency: int = 2
    claim_linger_ms: int = 20  # COFFER_CLAIM_LINGER_MS of the API and the worker
    # 9. breakdown: hop times of sync claims (issue 11)
    breakdown_clients: tuple[int, ...] = (1, 8)
    breakdown_secs: float = 8.0
    breakdown_warmup_secs: float = 2.0
    breakdown_max_rate: int = 1000
    # 3. worker-only drain
    worker_claims: int = 20_000
    worker_processes: tuple[int, ...] = (1, 2)
    worker_spread_rewards: int = 4  # an extra row: 2 processes, claims over this many rewards
    worker_new_participants: bool = True  # an extra row: participants the drain must create
    # 4. inventory scale (worker-only, 1 process)
    inventory_small: int = 1_000
    inventory_large: int = 1_000_000
    inventory_allocated: float = 0.9
    inventory_round_claims: int = 1_000
    inventory_rounds: int = 5
    # 5. stampede
    stampede_claims: int = 20_000
    stampede_codes: int = 10_000
    stampede_claims_per_participant: int = 4
    stampede_clients: int = 32
    # 6. memory
    memory_warm_claims: int = 1_000
    memory_claims: int = 100_000
    memory_clients: int = 32
    memory_sync_share: float = 0.1  # of the claims after warm-up, sent without respond-async
    # 7. campaigns (issue 9)
    campaign_gifts: int = 50_000  # participants of the gifts/s campaign
    campaign_reps: int = 3
    campaign_load_clients: int = 8
    campaign_load_secs: float = 8.0
    campaign_load_size: int = 100_000  # participants of the campaign beside the storefront
    campaign_load_reps: int = 3  # alternated phases of each kind
    campaign_memory_sizes: tuple[int, ...] = (100_000, 1_000_000)
    campaign_memory_secs: float = 45.0  # campaign time sampled after each upload, at most
    campaign_memory_codes: int = 200_000  # codes of the memory reward, at most
    campaign_analyze: bool = True  # ANALYZE before each campaign (autovacuum is off here)
    # 8. webhook deliveries (issue 8)
    webhook_claims: int = 5_000  # claims of the deliveries/s part
    webhook_clients: int = 8  # connections sending them
    webhook_rate: float = 200.0  # claims/s of the latency parts
    webhook_secs: float = 20.0  # length of each latency part
    webhook_slow_s: float = 5.0  # the slow endpoint answers after this
    webhook_wait_s: float = 120.0  # longest wait for the last delivery of a part


QUICK = {
    "ceiling_clients": (1, 8),
    "ceiling_secs": 1.5,
    "commit_secs": 1.0,
    "ceiling_participants": 10_000,
    "baseline_clients": (8,),
    "baseline_secs": 1.5,
    "e2e_clients": (1, 8),
    "e2e_secs": 2.0,
    "e2e_warmup_secs": 1.0,
    "e2e_healthz_secs": 1.0,
    "breakdown_secs": 2.0,
    "breakdown_warmup_secs": 1.0,
    "worker_claims": 2_000,
    "worker_processes": (1, 2),
    "worker_spread_rewards": 0,
    "inventory_large": 20_000,
    "inventory_round_claims": 500,
    "inventory_rounds": 3,
    "stampede_claims": 2_000,
    "stampede_codes": 1_000,
    "memory_warm_claims": 1_000,
    "memory_claims": 5_000,
    "campaign_gifts": 5_000,
    "campaign_reps": 2,
    "campaign_load_secs": 3.0,
    "campaign_load_size": 20_000,
    "campaign_load_reps": 2,
    "campaign_memory_sizes": (10_000, 100_000),
    "campaign_memory_secs": 8.0,
    "campaign_memory_codes": 50_000,
    "webhook_claims": 1_000,
    "webhook_secs": 5.0,
    "webhook_wait_s": 60.0,
}


def build_sizes(*, quick: bool, overrides: list[str]) -> Sizes:
    sizes = Sizes(**(QUICK if quick else {}))
    fields = {f.name: f for f in dataclasses.fields(Sizes)}
    for item in overrides:
        name, _, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if name not in fields or not raw:
            known = ", ".join(sorted(fields))
            raise SystemExit(f"--set {item!r}: expected NAME=VALUE with NAME one of: {known}")
        current = getattr(sizes, name)
        setattr(sizes, name, _parse(raw, current))
    return sizes


def _parse(raw: str, current: Any) -> Any:
    if isinstance(current, tuple):
        return tuple(int(part) for part in raw.split(",") if part.strip())
    if isinstance(current, bool):
        return raw.lower() in {"1", "true", "yes"}
    if isinstance(current, str):
        return raw
    if isinstance(current, int):
        return int(float(raw))
    return float(raw)


@dataclass
class Context:
    """Shared by the scripts of one `python -m bench` run."""

    sizes: Sizes
    quick: bool
    logs: Path
    ceiling: dict[str, Any] | None = None  # set by the ceiling script, reused as a baseline
    loadgen: str = "wrk"
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"
