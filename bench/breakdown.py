"""9. Where one claim's time goes, hop by hop (issue 11).

Sync claims (the storefront's default wait) over HTTP through gunicorn, Celery,
PostgreSQL and Redis at 1 and 8 clients, with COFFER_LOG_LEVEL=DEBUG so that both
sides log their hop times (core/timeline.py): the API one line per request, the
worker one line per batch. The two are joined by request id, and each hop's
median and p90 are printed in milliseconds, beside the median of the whole
request as the client's side measured it (received -> responded).

The DEBUG lines themselves cost a little (a JSON line per request and per
batch), so the total here runs slightly above the e2e script's latency: read
this script for the split, `e2e` for the figure.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.common import claims_phase, start_stack
from bench.config import Context
from bench.infra import environment, log
from bench.report import Result
from bench.seed import Seeder

COST = 100

# (label, from hop, to hop, which side's line holds each: "api" or "batch")
HOPS: tuple[tuple[str, tuple[str, str], tuple[str, str]], ...] = (
    (
        "API: received -> recorded (auth, parse, one INSERT)",
        ("api", "received"),
        ("api", "committed"),
    ),
    ("API: recorded -> doorbell rung", ("api", "committed"), ("api", "enqueued")),
    ("queue: doorbell -> batch started", ("api", "enqueued"), ("batch", "batch_started")),
    ("worker: batch started -> claims locked", ("batch", "batch_started"), ("batch", "locked")),
    ("worker: locked -> decided and written", ("batch", "locked"), ("batch", "decided")),
    ("worker: written -> committed", ("batch", "decided"), ("batch", "committed")),
    # The API often has the outcome before the worker marks "notified" (the notice
    # lands while publish() returns), so this hop runs from the worker's commit.
    ("notice: committed -> outcome seen by the API", ("batch", "committed"), ("api", "outcome")),
    ("API: outcome -> response written", ("api", "outcome"), ("api", "responded")),
)
TOTAL = ("total: received -> responded", ("api", "received"), ("api", "responded"))


def run(ctx: Context) -> Result:
    result = Result("breakdown")
    sizes = ctx.sizes
    clients = sizes.breakdown_clients
    per_phase = int(sizes.breakdown_max_rate * sizes.breakdown_secs) + 1000
    label = "breakdown"
    with (
        environment(label, ctx.logs, log_level="DEBUG") as (url, _redis, stack),
        Seeder(url) as seed,
    ):
        tenant = seed.tenant()
        rewards = {
            c: seed.reward(tenant, name=f"breakdown c{c}", codes=per_phase, points_cost=COST)
            for c in ("warmup", *clients)
        }
        seed.participants(tenant, prefix="p", count=per_phase, balance=COST * 10)
        start_stack(ctx, stack)
        claims_phase(
            stack, seed, tenant, reward_id=rewards["warmup"], clients=8,
            seconds=sizes.breakdown_warmup_secs, prefer="respond-async",
            key_prefix="warm-", participants=per_phase,
        )  # fmt: skip
        for c in clients:
            since = time.time()
            done = claims_phase(
                stack, seed, tenant, reward_id=rewards[c], clients=c,
                seconds=sizes.breakdown_secs, prefer=None, key_prefix=f"b{c}-",
                participants=per_phase,
            )  # fmt: skip
            time.sleep(0.3)  # the last lines reach the log files
            rows = breakdown(ctx.logs / label, since=since)
            log(f"{c} client(s): {done.load.count(201)} claims answered 201, {len(rows)} joined")
            split = summarise(rows)
            result.extra[f"c={c}"] = split
            healthz = loadgen.run(
                loadgen.Claims(base_url=stack.base_url, path="/healthz", mode="get"),
                clients=c,
                seconds=sizes.breakdown_secs / 2,
            )
            for name, stats in split.items():
                result.notes.append(
                    f"{c} client(s) | {name:<52} p50 {stats['p50']:7.2f} ms  "
                    f"p90 {stats['p90']:7.2f} ms  ({stats['n']} claims)"
                )
            total = split.get(TOTAL[0], {})
            result.add(
                f"sync claim p50 inside the API, {c} client(s)",
                total.get("p50"),
                "ms",
                baseline_name=f"GET /healthz p50 as a client sees it, {c} client(s)",
                baseline=healthz.latency_ms.get("p50"),
            )
    result.notes.append(
        "hop times come from the processes' own DEBUG timeline lines (core/timeline.py), "
        "joined by request id; each hop's median, so the medians need not add up to the total's"
    )
    return result


def breakdown(logs: Path, *, since: float) -> list[dict[str, float]]:
    """Per claim request received after `since`: each hop's duration in milliseconds."""
    api: dict[str, dict[str, float]] = {}
    batch_of: dict[str, dict[str, float]] = {}
    for line in _timeline_lines(logs / "api.log"):
        hops = line["hops"]
        if hops.get("received", 0) >= since and "responded" in hops and "request_id" in line:
            api[line["request_id"]] = hops
    for line in _timeline_lines(logs / "worker.log"):
        for request_id in line.get("request_ids") or []:
            batch_of[request_id] = line["hops"]
    rows = []
    for request_id, api_hops in api.items():
        batch_hops = batch_of.get(request_id)
        if batch_hops is None:
            continue  # a replay, or decided by a batch whose line was not written yet
        sides = {"api": api_hops, "batch": batch_hops}
        row: dict[str, float] = {}
        for name, (a_side, a_hop), (b_side, b_hop) in (*HOPS, TOTAL):
            a, b = sides[a_side].get(a_hop), sides[b_side].get(b_hop)
            if a is not None and b is not None:
                row[name] = (b - a) * 1000
        rows.append(row)
    return rows


def summarise(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, *_ in (*HOPS, TOTAL):
        values = sorted(row[name] for row in rows if name in row)
        if not values:
            continue
        out[name] = {
            "n": len(values),
            "p50": round(statistics.median(values), 2),
            "p90": round(values[int(0.9 * (len(values) - 1))], 2),
        }
    return out


def _timeline_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    if not path.exists():
        return lines
    with path.open(encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            if '"coffer.timeline"' not in raw:
                continue
            try:
                lines.append(json.loads(raw[raw.index("{") :]))
            except ValueError:
                continue
    return lines
