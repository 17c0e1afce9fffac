"""6. Memory: resident memory of the API and worker process trees as claims go by.

Paid claims over HTTP (wrk, `memory_clients` connections; each claim its own
participant and key). After `memory_warm_claims` (caches, pools and imports
warmed) the RSS of each tree is the baseline; then the rest up to
`memory_claims` are sent (all but `memory_sync_share` with
`Prefer: respond-async`, the rest waiting for their outcome, so both answer
paths run) and the RSS is read again. RSS is summed over a process and its
children (gunicorn master + workers, Celery main + prefork children), read
with psutil or /proc/<pid>/status; shared pages count once per process. The
peak is sampled every 0.5 s over the whole run (sum over the tree at one
instant), and each process's own high-water mark (VmHWM) is summed too.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench import loadgen
from bench.common import claims_phase, failures, start_stack
from bench.config import Context
from bench.infra import Stack, environment, log
from bench.procmem import SOURCE, tree_memory
from bench.report import Result, Target
from bench.seed import Seeder

COST = 100
TREES = ("api", "worker")


class PeakSampler(threading.Thread):
    def __init__(self, stack: Stack, interval_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.interval_s = interval_s
        self.peak = dict.fromkeys(TREES, 0)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval_s):
            for name in TREES:
                if name in self.stack.processes:
                    rss = tree_memory(self.stack.pid(name)).rss
                    self.peak[name] = max(self.peak[name], rss)

    def stop(self) -> dict[str, int]:
        self.stopping.set()
        self.join()
        return self.peak


def snapshot(stack: Stack) -> dict[str, dict[str, float]]:
    found = {}
    for name in TREES:
        memory = tree_memory(stack.pid(name))
        found[name] = {
            "rss_mib": round(memory.rss_mib, 1),
            "hwm_mib": round(memory.peak_mib, 1),
            "processes": memory.processes,
        }
    return found


def run(ctx: Context) -> Result:
    result = Result("memory")
    sizes = ctx.sizes
    warm, total = sizes.memory_warm_claims, sizes.memory_claims
    rest = total - warm
    sync = int(rest * sizes.memory_sync_share)
    phases: dict[str, Any] = {}
    with environment("memory", ctx.logs) as (url, _redis, stack), Seeder(url) as seed:
        tenant = seed.tenant()
        reward = seed.reward(tenant, name="memory", codes=total + 100, points_cost=COST)
        seed.participants(tenant, prefix="m", count=total, balance=COST)
        start_stack(ctx, stack)
        started = snapshot(stack)
        sampler = PeakSampler(stack)
        sampler.start()

        def send(label: str, count: int, offset: int, prefer: str | None, clients: int) -> None:
            phase = claims_phase(
                stack,
                seed,
                tenant,
                reward_id=reward,
                clients=clients,
                total=count,
                prefer=prefer,
                key_prefix=f"{label}-",
                participants=count,
                pid_prefix="m",
                pid_offset=offset,
                drain_timeout_s=900,
            )
            phases[label] = {
                "claims": count,
                "wall_s": round(phase.wall_s, 2),
                "load": phase.load.as_dict(),
            }
            log(f"memory {label}: {count:,} claims in {phase.wall_s:.1f} s")

        send("warm", warm, 0, "respond-async", sizes.memory_clients)
        time.sleep(1)
        after_warm = snapshot(stack)
        send("async", rest - sync, warm, "respond-async", sizes.memory_clients)
        if sync:
            send("sync", sync, warm + rest - sync, None, min(8, sizes.memory_clients))
        time.sleep(1)
        after_all = snapshot(stack)
        peak = sampler.stop()
        outcomes = seed.outcomes([reward])
    if failures(outcomes):
        result.notes.append(f"outcomes: {outcomes}")
    for name in TREES:
        base, end = after_warm[name]["rss_mib"], after_all[name]["rss_mib"]
        result.add(
            f"{name} RSS after {total:,} claims",
            end,
            "MiB",
            baseline_name=f"after {warm:,} claims",
            baseline=base,
        )
        result.add(
            f"{name} peak RSS (sampled, tree sum)",
            peak[name] / 2**20,
            "MiB",
            baseline_name=f"after {warm:,} claims",
            baseline=base,
        )
        result.targets.append(
            Target(
                f"{name} RSS growth, {total:,} vs {warm:,} claims",
                end / base if base else None,
                1.10,
                higher_is_better=False,
                detail=f"{end:.0f} vs {base:.0f} MiB over {after_all[name]['processes']} processes",
            )
        )
    base = sum(after_warm[n]["rss_mib"] for n in TREES)
    end = sum(after_all[n]["rss_mib"] for n in TREES)
    result.add(
        f"API + worker RSS after {total:,} claims",
        end,
        "MiB",
        baseline_name=f"after {warm:,} claims",
        baseline=base,
    )
    result.extra = {
        "started": started,
        "after_warm": after_warm,
        "after_all": after_all,
        "peak_sampled_mib": {k: round(v / 2**20, 1) for k, v in peak.items()},
        "phases": phases,
        "outcomes": outcomes,
        "memory_source": SOURCE,
        "loadgen": loadgen.tool(),
    }
    result.notes.append(f"RSS read with {SOURCE}; summed over each process tree")
    return result
