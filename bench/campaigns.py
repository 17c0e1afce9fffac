"""7. Campaigns (issue 9): gifts per second, storefront latency beside a campaign, memory.

One environment (gunicorn + Celery workers + PostgreSQL + Redis, as `e2e`),
`COFFER_MAX_BODY_BYTES` raised so a million-id CSV fits. Three parts:

1. Gifts per second: a campaign of `campaign_gifts` existing participants on a
   free reward with enough codes, posted as a `text/csv` body; wall time from
   the POST until GET /campaigns/{id} says `completed` (polled every 0.1 s),
   `campaign_reps` times (medians, spread min-max). Baseline: the raw-SQL
   claim ceiling of this run (script 1, or a reduced sweep taken first).
   Also the worker-side rate: decided items over the time from the first
   chunk's start (its claims' `accepted_at`) to `completed_at`.
2. Storefront latency: sync claims at `campaign_load_clients` connections for
   `campaign_load_secs` (the e2e load generator), alternately without and
   with a `campaign_load_size`-participant campaign running (A B A B ...,
   `campaign_load_reps` each); each campaign is cancelled after its phase.
   p50/p99 medians of the phases, spread min-max.
3. Memory: for each size in `campaign_memory_sizes`, a fresh API and worker,
   a CSV upload of that many new ids and the campaign that follows, for at
   most `campaign_memory_secs` after the upload (then cancelled); the peak
   RSS of each process tree sampled every 0.25 s, separately for the upload
   and for the campaign.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from bench import ceiling as ceiling_script
from bench import loadgen
from bench.common import claims_phase, failures, start_stack
from bench.config import Context
from bench.infra import Stack, environment, log
from bench.procmem import SOURCE, _status_kib, process_tree, tree_memory
from bench.report import Result, Target
from bench.seed import Seeder, Tenant

COST = 100
TREES = ("api", "worker")
CAMPAIGNS = "/api/v1/gamify/campaigns"
MAX_BODY = 64 * 1024 * 1024  # a million ids of ~10 bytes each, with room


# ------------------------------------------------------------------ HTTP


def _request(
    stack: Stack,
    tenant: Tenant,
    method: str,
    path: str,
    *,
    body: Any = None,
    content_type: str = "application/json",
    length: int | None = None,
    timeout: float = 600,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {tenant.admin_key}"}
    if method == "POST":
        headers["Idempotency-Key"] = f"bench-{uuid.uuid4().hex}"
        headers["Content-Type"] = content_type
        if length is not None:
            headers["Content-Length"] = str(length)
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    if method == "POST" and data is None:
        data = b"{}"
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1:<port>, built here
        stack.base_url + path, data=data, headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


def _csv(directory: Path, *, prefix: str, count: int) -> Path:
    path = directory / f"{prefix}-{count}.csv"
    with path.open("w") as out:
        for start in range(1, count + 1, 100_000):
            stop = min(count + 1, start + 100_000)
            out.write("".join(f"{prefix}{i}\n" for i in range(start, stop)))
    return path


def post_campaign(stack: Stack, tenant: Tenant, *, reward_id: str, csv: Path) -> dict[str, Any]:
    """POST the CSV file as a text/csv body, streamed from disk."""
    size = csv.stat().st_size
    with csv.open("rb") as body:
        return _request(
            stack,
            tenant,
            "POST",
            f"{CAMPAIGNS}?reward_id={reward_id}",
            body=body,
            content_type="text/csv",
            length=size,
        )


def show(stack: Stack, tenant: Tenant, campaign_id: str) -> dict[str, Any]:
    return _request(stack, tenant, "GET", f"{CAMPAIGNS}/{campaign_id}")


def cancel(stack: Stack, tenant: Tenant, campaign_id: str) -> dict[str, Any]:
    return _request(stack, tenant, "POST", f"{CAMPAIGNS}/{campaign_id}/cancel")


def wait_status(
    stack: Stack, tenant: Tenant, campaign_id: str, *, timeout_s: float, poll_s: float = 0.1
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        view = show(stack, tenant, campaign_id)
        if view["status"] != "running":
            return view
        if time.monotonic() > deadline:
            raise TimeoutError(f"campaign {campaign_id} still running: {view}")
        time.sleep(poll_s)


def wait_started(stack: Stack, tenant: Tenant, campaign_id: str, *, timeout_s: float = 120) -> None:
    """Until the first chunk is decided (the campaign is then under way in the worker)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view = show(stack, tenant, campaign_id)
        if view["succeeded"] + view["failed"] > 0 or view["status"] != "running":
            return
        time.sleep(0.05)
    raise TimeoutError(f"campaign {campaign_id} decided nothing in {timeout_s:.0f}s")


# ---------------------------------------------------------------- memory


class PeakSampler(threading.Thread):
    """Peak RSS of the API and worker trees, per labelled part: the tree sum at one instant
    and the largest single process, sampled every `interval_s`."""

    def __init__(self, stack: Stack, interval_s: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.interval_s = interval_s
        self.label = "start"
        self.peaks: dict[str, dict[str, int]] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval_s):
            peak = self.peaks.setdefault(self.label, {})
            for name in TREES:
                if name not in self.stack.processes:
                    continue
                each = [_status_kib(pid)[0] * 1024 for pid in process_tree(self.stack.pid(name))]
                peak[name] = max(peak.get(name, 0), sum(each))
                peak[f"{name}_process"] = max(peak.get(f"{name}_process", 0), *each)

    def stop(self) -> dict[str, dict[str, float]]:
        self.stopping.set()
        self.join()
        return {
            label: {k: round(v / 2**20, 1) for k, v in peak.items()}
            for label, peak in self.peaks.items()
        }


def high_water(stack: Stack) -> dict[str, float]:
    """Each tree's VmHWM (the kernel's own peak, between samples too): summed over the tree
    and of its largest process, MiB."""
    found = {}
    for name in TREES:
        hwm = [_status_kib(pid)[1] / 1024 for pid in process_tree(stack.pid(name))]
        found[name] = round(sum(hwm), 1)
        found[f"{name}_process"] = round(max(hwm or [0]), 1)
    return found


# ---------------------------------------------------------------- the run


def analyze(ctx: Context, seed: Seeder) -> None:
    """ANALYZE the database, as autovacuum would have on a live system (it is off on the
    shared bench server): never-analysed tables make the chunk's participant lookup and
    per-user count scan whole tables (see docs/performance.md, "Campaigns")."""
    if ctx.sizes.campaign_analyze:
        seed.pg.execute("ANALYZE")


def _spread(values: list[float]) -> str:
    return f"median of {len(values)}, min {min(values):,.1f}, max {max(values):,.1f}"


def run(ctx: Context) -> Result:
    result = Result("campaigns")
    ceiling = ceiling_script.baseline(ctx, result)
    ceil = ceiling["claims_per_s"]
    extra: dict[str, Any] = {"ceiling": {k: v for k, v in ceiling.items() if k != "rows"}}
    with (
        environment("campaigns", ctx.logs, max_body_bytes=str(MAX_BODY)) as (url, _r, stack),
        Seeder(url) as seed,
        tempfile.TemporaryDirectory() as tmp,
    ):
        tenant = seed.tenant()
        directory = Path(tmp)
        start_stack(ctx, stack)
        parts: dict[str, Any] = {
            "stack": stack,
            "seed": seed,
            "tenant": tenant,
            "directory": directory,
        }
        extra["gifts"] = _gifts(ctx, result, **parts, ceil=ceil)
        extra["latency"] = _latency(ctx, result, **parts)
        extra["memory"] = _memory(ctx, result, **parts)
    extra["loadgen"] = loadgen.tool()
    extra["memory_source"] = SOURCE
    result.extra = extra
    return result


def _gifts(
    ctx: Context,
    result: Result,
    *,
    stack: Stack,
    seed: Seeder,
    tenant: Tenant,
    directory: Path,
    ceil: float,
) -> dict[str, Any]:
    sizes = ctx.sizes
    n = sizes.campaign_gifts
    seed.participants(tenant, prefix="g", count=n, balance=0)
    csv = _csv(directory, prefix="g", count=n)
    runs: list[dict[str, Any]] = []
    for rep in range(sizes.campaign_reps):
        reward = seed.reward(tenant, name=f"gifts {rep}", codes=n, points_cost=None)
        analyze(ctx, seed)
        started = time.monotonic()
        created = post_campaign(stack, tenant, reward_id=reward, csv=csv)
        posted = time.monotonic() - started
        view = wait_status(stack, tenant, created["campaign_id"], timeout_s=3600)
        wall = time.monotonic() - started
        first, last = seed.pg.execute(
            "SELECT min(c.accepted_at), p.completed_at FROM claims c, campaigns p"
            " WHERE c.reward_id = %s AND p.id = %s GROUP BY p.completed_at",
            (reward, created["campaign_id"]),
        ).fetchone()  # type: ignore[misc]
        worker_s = (last - first).total_seconds()
        decided = view["succeeded"] + view["failed"]
        one = {
            "participants": n,
            "post_s": round(posted, 3),
            "wall_s": round(wall, 3),
            "worker_s": round(worker_s, 3),
            "gifts_per_s": decided / wall,
            "worker_per_s": decided / worker_s if worker_s > 0 else 0.0,
            "status": view["status"],
            "succeeded": view["succeeded"],
            "failures_by_code": view["failures_by_code"],
        }
        runs.append(one)
        log(
            f"gifts rep {rep}: {n:,} in {wall:.1f} s (POST {posted:.2f} s) = "
            f"{one['gifts_per_s']:,.0f}/s; worker {one['worker_per_s']:,.0f}/s"
        )
        if view["status"] != "completed" or view["succeeded"] != n:
            result.notes.append(f"gifts rep {rep}: {view}")
    result.extra["gift_runs"] = runs  # the baseline of part 2's campaign rate
    rates = [r["gifts_per_s"] for r in runs]
    worker = [r["worker_per_s"] for r in runs]
    gifts, worker_rate = statistics.median(rates), statistics.median(worker)
    result.add(
        f"campaign gifts/s, POST to completed ({n:,} participants)",
        gifts,
        "gifts/s",
        baseline_name="ceiling (raw SQL)",
        baseline=ceil,
        note=_spread(rates),
    )
    result.add(
        "campaign gifts/s, worker side (first chunk to completed)",
        worker_rate,
        "gifts/s",
        baseline_name="ceiling (raw SQL)",
        baseline=ceil,
        note=_spread(worker),
    )
    result.targets.append(
        Target(
            "campaign gifts/s / ceiling",
            gifts / ceil if ceil else None,
            1.0,
            higher_is_better=True,
            detail=f"{gifts:,.0f} gifts/s ({_spread(rates)}) vs ceiling {ceil:,.0f} claims/s",
        )
    )
    return {"runs": runs}


def _latency(
    ctx: Context,
    result: Result,
    *,
    stack: Stack,
    seed: Seeder,
    tenant: Tenant,
    directory: Path,
) -> dict[str, Any]:
    sizes = ctx.sizes
    clients, secs, size = (
        sizes.campaign_load_clients,
        sizes.campaign_load_secs,
        sizes.campaign_load_size,
    )
    per_phase = int(sizes.e2e_max_rate * secs) + 1000
    order = [kind for _ in range(sizes.campaign_load_reps) for kind in ("alone", "campaign")]
    rewards = [
        seed.reward(tenant, name=f"store {i}", codes=per_phase) for i in range(len(order) + 1)
    ]
    seed.participants(tenant, prefix="s", count=per_phase, balance=COST * (len(order) + 2))
    csv = _csv(directory, prefix="l", count=size)
    phases: list[dict[str, Any]] = []

    def phase(index: int, kind: str, seconds: float) -> dict[str, Any]:
        done = claims_phase(
            stack,
            seed,
            tenant,
            reward_id=rewards[index],
            clients=clients,
            seconds=seconds,
            prefer=None,
            key_prefix=f"store-{index}-",
            participants=per_phase,
            pid_prefix="s",
        )
        if failures(done.outcomes) or set(done.load.statuses) - {201}:
            result.notes.append(
                f"storefront {kind} #{index}: statuses {done.load.statuses}, "
                f"outcomes {done.outcomes}, socket errors {done.load.errors}"
            )
        return {
            "kind": kind,
            "claims_per_s": done.load.count(201) / done.load.seconds,
            "latency_ms": done.load.latency_ms,
            "statuses": done.load.statuses,
            "outcomes": done.outcomes,
            "cpu_s": {k: round(v, 2) for k, v in done.cpu_s.items()},
        }

    analyze(ctx, seed)
    phase(len(order), "warm-up", min(3.0, secs))
    for index, kind in enumerate(order):
        if kind == "alone":
            one = phase(index, kind, secs)
        else:
            reward = seed.reward(tenant, name=f"bulk {index}", codes=size, points_cost=None)
            lines = csv.read_text().replace("l", f"l{index}x")
            mine = directory / f"l{index}.csv"
            mine.write_text(lines)
            analyze(ctx, seed)
            campaign = post_campaign(stack, tenant, reward_id=reward, csv=mine)["campaign_id"]
            wait_started(stack, tenant, campaign)
            before = show(stack, tenant, campaign)
            t0 = time.monotonic()
            one = phase(index, kind, secs)
            after = show(stack, tenant, campaign)
            elapsed = time.monotonic() - t0
            running = after["status"] == "running"
            if running:
                cancel(stack, tenant, campaign)
                wait_status(stack, tenant, campaign, timeout_s=600)
            decided = after["succeeded"] + after["failed"] - before["succeeded"] - before["failed"]
            one["campaign"] = {
                "size": size,
                "decided_during_phase": decided,
                "gifts_per_s_during_phase": decided / elapsed,
                "still_running_at_phase_end": running,
            }
            if not running:
                result.notes.append(f"storefront #{index}: the campaign ended before the phase")
        lat = one["latency_ms"]
        log(
            f"storefront {kind} #{index}: {one['claims_per_s']:,.0f} claims/s, "
            f"p50 {lat.get('p50', 0):.1f} p99 {lat.get('p99', 0):.1f} ms"
            + (
                f"; campaign {one['campaign']['gifts_per_s_during_phase']:,.0f} gifts/s meanwhile"
                if "campaign" in one
                else ""
            )
        )
        phases.append(one)

    def pick(kind: str, what: str) -> list[float]:
        return [p["latency_ms"][what] for p in phases if p["kind"] == kind]

    for what in ("p50", "p99"):
        alone, busy = pick("alone", what), pick("campaign", what)
        result.add(
            f"sync claim {what}, {clients} clients, {size:,}-participant campaign running",
            statistics.median(busy),
            "ms",
            baseline_name=f"same load, no campaign ({_spread(alone)})",
            baseline=statistics.median(alone),
            note=_spread(busy),
        )
    rates_alone = [p["claims_per_s"] for p in phases if p["kind"] == "alone"]
    rates_busy = [p["claims_per_s"] for p in phases if p["kind"] == "campaign"]
    result.add(
        f"sync claims/s, {clients} clients, campaign running",
        statistics.median(rates_busy),
        "claims/s",
        baseline_name="same load, no campaign",
        baseline=statistics.median(rates_alone),
        note=_spread(rates_busy),
    )
    meanwhile = [p["campaign"]["gifts_per_s_during_phase"] for p in phases if "campaign" in p]
    result.add(
        "campaign gifts/s during the storefront load",
        statistics.median(meanwhile),
        "gifts/s",
        baseline_name="campaign gifts/s alone (part 1)",
        baseline=statistics.median(
            [r["gifts_per_s"] for r in result.extra.get("gift_runs", [])] or [float("nan")]
        ),
        note=_spread(meanwhile),
    )
    busy99, alone99 = (
        statistics.median(pick("campaign", "p99")),
        statistics.median(pick("alone", "p99")),
    )
    result.targets.append(
        Target(
            f"sync claim p99 with / without a campaign, {clients} clients",
            busy99 / alone99 if alone99 else None,
            2.0,
            higher_is_better=False,
            detail=f"{busy99:.1f} vs {alone99:.1f} ms (medians of {len(pick('alone', 'p99'))} "
            f"alternated phases of {secs:g} s)",
        )
    )
    return {"order": order, "phases": phases}


def _memory(
    ctx: Context,
    result: Result,
    *,
    stack: Stack,
    seed: Seeder,
    tenant: Tenant,
    directory: Path,
) -> dict[str, Any]:
    sizes = ctx.sizes
    found: dict[int, dict[str, Any]] = {}
    for size in sizes.campaign_memory_sizes:
        stack.stop()  # a fresh API and worker per size: peaks are not carried over
        start_stack(ctx, stack)
        codes = min(size, sizes.campaign_memory_codes)
        reward = seed.reward(tenant, name=f"memory {size}", codes=codes, points_cost=None)
        csv = _csv(directory, prefix=f"m{size}x", count=size)
        analyze(ctx, seed)
        time.sleep(1)
        idle = {name: round(tree_memory(stack.pid(name)).rss_mib, 1) for name in TREES}
        sampler = PeakSampler(stack)
        sampler.label = "upload"
        sampler.start()
        t0 = time.monotonic()
        campaign = post_campaign(stack, tenant, reward_id=reward, csv=csv)["campaign_id"]
        upload_s = time.monotonic() - t0
        sampler.label = "campaign"
        t1 = time.monotonic()
        view = show(stack, tenant, campaign)
        while view["status"] == "running" and time.monotonic() - t1 < sizes.campaign_memory_secs:
            time.sleep(0.5)
            view = show(stack, tenant, campaign)
        ran_s = time.monotonic() - t1
        peaks = sampler.stop()
        hwm = high_water(stack)
        if view["status"] == "running":
            cancel(stack, tenant, campaign)
            wait_status(stack, tenant, campaign, timeout_s=900)
        decided = view["succeeded"] + view["failed"]
        found[size] = {
            "ids": size,
            "csv_bytes": csv.stat().st_size,
            "codes": codes,
            "upload_s": round(upload_s, 2),
            "campaign_s": round(ran_s, 1),
            "decided": decided,
            "completed": view["status"] == "completed",
            "idle_mib": idle,
            "peak_mib": peaks,
            "hwm_mib": hwm,
        }
        log(
            f"memory {size:,} ids: upload {upload_s:.1f} s, then {decided:,} decided in "
            f"{ran_s:.0f} s ({view['status']}); peaks {peaks}; VmHWM {hwm}; idle {idle}"
        )
        csv.unlink()
    small, big = min(found), max(found)

    def peak(size: int, key: str) -> float:
        return max(found[size]["peak_mib"].get(p, {}).get(key, 0) for p in ("upload", "campaign"))

    for name in TREES:
        for part in ("upload", "campaign"):
            result.add(
                f"{name} tree peak RSS (sampled sum), {part}, {big:,} ids",
                found[big]["peak_mib"].get(part, {}).get(name),
                "MiB",
                baseline_name=f"same at {small:,} ids",
                baseline=found[small]["peak_mib"].get(part, {}).get(name),
            )
        result.add(
            f"{name} largest process VmHWM, {big:,} ids",
            found[big]["hwm_mib"][f"{name}_process"],
            "MiB",
            baseline_name=f"same at {small:,} ids",
            baseline=found[small]["hwm_mib"][f"{name}_process"],
        )
        result.add(
            f"{name} tree peak over its idle RSS, {big:,} ids",
            peak(big, name) - found[big]["idle_mib"][name],
            "MiB",
            baseline_name=f"same at {small:,} ids",
            baseline=peak(small, name) - found[small]["idle_mib"][name],
        )
        tree_big, tree_small = peak(big, name), peak(small, name)
        one_big, one_small = (found[s]["hwm_mib"][f"{name}_process"] for s in (big, small))
        processes = len(process_tree(stack.pid(name)))
        result.targets.append(
            Target(
                f"{name} tree peak RSS MiB ({processes} processes), {big:,}-id upload + campaign",
                tree_big,
                300.0,
                higher_is_better=False,
                detail=f"idle after start {found[big]['idle_mib'][name]} MiB",
            )
        )
        result.targets.append(
            Target(
                f"{name} largest process VmHWM MiB, {big:,}-id upload + campaign",
                one_big,
                300.0,
                higher_is_better=False,
            )
        )
        result.targets.append(
            Target(
                f"{name} tree peak RSS {big:,} / {small:,} ids",
                tree_big / tree_small if tree_small else None,
                1.2,
                higher_is_better=False,
                detail=f"{tree_big:.0f} vs {tree_small:.0f} MiB; largest process "
                f"{one_big:.0f} vs {one_small:.0f} MiB",
            )
        )
    for size, one in found.items():
        if not one["completed"]:
            result.notes.append(
                f"memory {size:,} ids: campaign sampled for {one['campaign_s']:.0f} s after the "
                f"upload ({one['decided']:,} decided), then cancelled"
            )
    result.notes.append(f"RSS read with {SOURCE}; summed over each process tree")
    return {str(k): v for k, v in found.items()}
