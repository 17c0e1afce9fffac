"""8. Webhook deliveries (issue 8 item 8): throughput and claim-to-delivery latency.

One environment (gunicorn + Celery worker + beat + PostgreSQL + Redis, as
`e2e`), `COFFER_WEBHOOK_ALLOW_PRIVATE=1` so deliveries may go to 127.0.0.1.
Receivers are threaded HTTP servers in this process on 127.0.0.1 answering
204 (the slow one after `webhook_slow_s`), recording each distinct
webhook-id and, per `data.claim_id`, the monotonic arrival time. One free
reward; every claim names a new participant. Three parts:

1. Deliveries/s from the relay and the delivery tasks: `webhook_claims`
   claims are made and decided before any endpoint exists (their facts are
   relayed to nobody); then the endpoint is added, those facts are marked
   undispatched again (one UPDATE) and the relay task is sent: time from that
   send to the N-th distinct webhook-id at the receiver. Baseline: a plain
   loop of N POSTs, each signed with the `standardwebhooks` package over a
   body shaped like Coffer's, through one pooled `httpx.Client`, to the same
   receiver. Beside it, for the whole path: another N claims sent with
   `Prefer: respond-async` (the e2e load generator, `webhook_clients`
   connections), time from the first claim to the N-th delivery (bounded
   by how fast the API and the drain take claims, too).
2. Latency: claims paced at `webhook_rate`/s for `webhook_secs` (a thread
   pool sends each at its scheduled time); per claim, arrival at the receiver
   minus the time its claim request was sent (`claimed_at` is not precise to
   the millisecond, and the commit happens inside the API, so this includes
   the claim request and the drain: an upper bound of commit-to-delivery).
   Baseline: the same loop's per-POST round trip (what the network and the
   receiver alone cost).
3. The same with a second endpoint that answers after `webhook_slow_s`: the
   healthy endpoint's p99 beside its p99 in part 2.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from standardwebhooks import Webhook

from bench import loadgen
from bench.common import CLAIM_PATH, cpu_meter, start_stack
from bench.config import Context
from bench.infra import CELERY_QUEUE, Stack, environment, log
from bench.report import Result, Target
from bench.seed import Seeder, Tenant

ENDPOINTS = "/api/v1/gamify/webhook-endpoints"
EVENT = "reward.reward_claimed"
RELAY_TASK = "coffer.facts.relay"  # workers/celery_app.py (not imported: it loads settings)


# ----------------------------------------------------------------- receiver


class Receiver:
    """A threaded HTTP/1.1 server on 127.0.0.1 answering 204 after `delay_s`; records the
    first arrival (time.monotonic) of each webhook-id and of each `data.claim_id`."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.ids: dict[str, float] = {}
        self.claims: dict[str, float] = {}
        self.requests = 0
        self.target = 0  # when set: `reached` is set at this many distinct ids
        self.reached = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.monotonic()
                owner.record(self.headers.get("webhook-id") or "", body, now)
                if owner.delay_s:
                    time.sleep(owner.delay_s)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def record(self, webhook_id: str, body: bytes, now: float) -> None:
        try:
            claim_id = json.loads(body).get("data", {}).get("claim_id")
        except ValueError:
            claim_id = None
        with self.lock:
            self.requests += 1
            self.ids.setdefault(webhook_id, now)
            if claim_id:
                self.claims.setdefault(claim_id, now)
            if self.target and len(self.ids) >= self.target:
                self.reached.set()

    def expect(self, count: int) -> None:
        """Reset, and set `reached` when `count` distinct webhook-ids have arrived."""
        with self.lock:
            self.ids.clear()
            self.claims.clear()
            self.requests = 0
            self.target = count
            self.reached.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------ helpers


def _admin(stack: Stack, tenant: Tenant, method: str, path: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {tenant.admin_key}"}
    if method == "POST":
        headers["Idempotency-Key"] = f"bench-{uuid.uuid4().hex}"
    response = httpx.request(method, stack.base_url + path, json=body, headers=headers, timeout=30)
    response.raise_for_status()
    return response.json() if response.content else None


def add_endpoint(stack: Stack, tenant: Tenant, url: str) -> dict[str, Any]:
    return _admin(stack, tenant, "POST", ENDPOINTS, {"url": url, "event_types": [EVENT]})


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def start_beat(stack: Stack) -> None:
    """Celery beat: the relay sweep and the due-deliveries job (the safety nets)."""
    import sys  # noqa: PLC0415

    args = [sys.executable, "-m", "celery", "-A", "workers", "beat", "--loglevel", "WARNING"]
    stack._spawn("beat", args)


def baseline_loop(receiver: Receiver, count: int) -> dict[str, Any]:
    """`count` POSTs signed with standardwebhooks, bodies like Coffer's, one pooled client."""
    hook = Webhook("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    receiver.expect(count)
    rtts: list[float] = []
    started = time.monotonic()
    with httpx.Client(timeout=30) as client:
        for i in range(count):
            now = datetime.now(UTC)
            body = json.dumps(
                {
                    "type": EVENT,
                    "timestamp": now.isoformat().replace("+00:00", "Z"),
                    "data": {"claim_id": f"clm_base{i}", "participant_id": f"p{i}", "n": i},
                },
                separators=(",", ":"),
            )
            msg_id = f"msg_base_{i}"
            sent = time.monotonic()
            response = client.post(
                receiver.url,
                content=body,
                headers={
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": hook.sign(msg_id, now, body),
                    "Content-Type": "application/json",
                },
            )
            rtts.append((time.monotonic() - sent) * 1000)
            response.raise_for_status()
    receiver.reached.wait(30)
    wall = time.monotonic() - started
    return {
        "count": count,
        "wall_s": round(wall, 3),
        "per_s": count / wall,
        "rtt_ms": {"p50": percentile(rtts, 50), "p99": percentile(rtts, 99)},
    }


def paced_claims(
    stack: Stack,
    tenant: Tenant,
    *,
    reward_id: str,
    rate: float,
    seconds: float,
    pid_start: int,
    senders: int = 16,
) -> tuple[dict[str, float], dict[str, int], float]:
    """Claims at `rate`/s for `seconds`, each at its scheduled time: {claim_id: send time},
    status counts, and the rate achieved."""
    sent: dict[str, float] = {}
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    local = threading.local()
    path = stack.base_url + CLAIM_PATH.format(reward_id)

    def one(n: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=30)
        t0 = time.monotonic()
        try:
            response = client.post(
                path,
                json={"participant_id": f"w{pid_start + n + 1}", "points_deduction": True},
                headers={
                    "Authorization": f"Bearer {tenant.server_key}",
                    "Idempotency-Key": f"wh-{pid_start + n}",
                    "Prefer": "respond-async",
                },
            )
            code = str(response.status_code)
            claim_id = response.json().get("claim_id") if response.status_code < 300 else None
        except httpx.HTTPError as error:
            code, claim_id = type(error).__name__, None
        with lock:
            statuses[code] = statuses.get(code, 0) + 1
            if claim_id:
                sent[claim_id] = t0

    total = int(rate * seconds)
    started = time.monotonic()
    with ThreadPoolExecutor(senders) as pool:
        for n in range(total):
            due = started + n / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            pool.submit(one, n)
    elapsed = time.monotonic() - started
    return sent, statuses, total / elapsed


def latencies(
    receiver: Receiver, sent: dict[str, float], *, timeout_s: float
) -> tuple[list[float], int]:
    """arrival - send time (ms) per claim, waiting up to `timeout_s` for stragglers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with receiver.lock:
            if all(c in receiver.claims for c in sent):
                break
        time.sleep(0.1)
    with receiver.lock:
        found = [(receiver.claims[c] - t) * 1000 for c, t in sent.items() if c in receiver.claims]
    return found, len(sent) - len(found)


def _wait_relayed(seed: Seeder, count: int, *, timeout_s: float) -> None:
    """Until `count` claim facts exist and every one is relayed (to no endpoint yet)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = seed.scalar(
            "SELECT count(*) FROM facts WHERE type = %(t)s AND dispatched_at IS NOT NULL",
            {"t": EVENT},
        )
        if done >= count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the {count} claims' facts were not relayed within {timeout_s:g} s")


def where_time_goes(seed: Seeder, since: Any, url: str) -> dict[str, Any]:
    """From the database, for deliveries to `url` created after `since` (ms, p50/p99):
    relay lag (fact written to delivery row), queue wait (delivery row to its first
    attempt), and the HTTP exchange of the attempts (duration_ms)."""
    row = seed.pg.execute(
        "WITH d AS (SELECT d.id, d.created_at, f.created_at AS fact_at,"
        " (SELECT min(a.attempted_at) FROM webhook_attempts a WHERE a.delivery_pk = d.id)"
        " AS first_at FROM webhook_deliveries d JOIN facts f ON f.id = d.fact_id"
        " JOIN webhook_endpoints e ON e.id = d.endpoint_pk"
        " WHERE e.url = %(u)s AND d.created_at >= %(s)s) "
        "SELECT count(*),"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - fact_at)),"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - fact_at)),"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_at - created_at)),"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM first_at - created_at))"
        " FROM d",
        {"u": url, "s": since},
    ).fetchone()
    http = seed.pg.execute(
        "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY a.duration_ms),"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY a.duration_ms)"
        " FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_pk"
        " JOIN webhook_endpoints e ON e.id = d.endpoint_pk"
        " WHERE e.url = %(u)s AND a.attempted_at >= %(s)s",
        {"u": url, "s": since},
    ).fetchone()
    assert row is not None and http is not None

    def ms(value: Any) -> float | None:
        return None if value is None else round(float(value) * 1000, 1)

    return {
        "deliveries": row[0],
        "relay_lag_ms": {"p50": ms(row[1]), "p99": ms(row[2])},
        "queue_wait_ms": {"p50": ms(row[3]), "p99": ms(row[4])},
        "attempts": http[0],
        "http_ms": {"p50": http[1], "p99": http[2]},
    }


# ------------------------------------------------------------------ the run


def run(ctx: Context) -> Result:
    sizes = ctx.sizes
    result = Result("webhooks")
    fast, slow = Receiver(), Receiver(delay_s=sizes.webhook_slow_s)
    n = sizes.webhook_claims
    per_phase = int(sizes.webhook_rate * sizes.webhook_secs) + 10
    total = 2 * n + 2 * per_phase + 10
    extra: dict[str, Any] = {}
    try:
        with (
            environment("webhooks", ctx.logs, webhook_allow_private="1") as (url, _r, stack),
            Seeder(url) as seed,
        ):
            tenant = seed.tenant()
            reward = seed.reward(tenant, name="hooks", codes=total, points_cost=100)
            seed.participants(tenant, prefix="w", count=total, balance=100)
            seed.pg.execute("ANALYZE")
            start_stack(ctx, stack)
            start_beat(stack)

            # 1. deliveries per second from the relay and delivery tasks, beside the plain loop
            spec = loadgen.Claims(
                base_url=stack.base_url,
                path=CLAIM_PATH.format(reward),
                token=tenant.server_key,
                prefer="respond-async",
                key_prefix="whpre-",
                participants=n,
                pid_prefix="w",
                pid_offset=total - 2 * n,
            )
            loadgen.run(spec, clients=sizes.webhook_clients, total=n)
            _wait_relayed(seed, n, timeout_s=sizes.webhook_wait_s)
            add_endpoint(stack, tenant, fast.url)
            base = baseline_loop(fast, n)
            fast.expect(n)
            since = seed.scalar("SELECT now()")
            meter = cpu_meter(stack, seed)
            meter.start()
            started = time.monotonic()
            seed.pg.execute(
                "UPDATE facts SET dispatched_at = NULL WHERE type = %(t)s", {"t": EVENT}
            )
            stack.celery.send_task(RELAY_TASK, queue=CELERY_QUEUE)
            got = fast.reached.wait(sizes.webhook_wait_s)
            wall = time.monotonic() - started
            delivered = len(fast.ids)
            rate = delivered / wall
            cpu = meter.stop()
            detail = where_time_goes(seed, since, fast.url)
            log(f"relay+delivery detail: {detail}; cpu s {cpu}")
            log(
                f"relay+delivery: {delivered:,} deliveries in {wall:.2f} s = {rate:,.0f}/s; "
                f"baseline {base['per_s']:,.0f}/s"
            )
            if not got:
                result.notes.append(f"relay+delivery: only {delivered} of {n} delivered in time")
            result.add(
                f"webhook deliveries/s, relay wake-up to N-th delivery (N={n:,})",
                rate,
                "deliveries/s",
                baseline_name="plain signed POST loop, pooled httpx",
                baseline=base["per_s"],
            )
            result.targets.append(
                Target(
                    "webhook deliveries/s / plain loop",
                    rate / base["per_s"],
                    0.5,
                    higher_is_better=True,
                    detail=f"{rate:,.0f}/s vs {base['per_s']:,.0f}/s",
                )
            )
            extra["throughput"] = {
                "facts": n,
                "delivered": delivered,
                "wall_s": round(wall, 3),
                "baseline": base,
                "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
                "worker_cpu_ms_per_delivery": round(cpu["worker"] * 1000 / max(delivered, 1), 2),
                "detail": detail,
            }

            # 1b. the whole path: claims in, deliveries out
            fast.expect(n)
            spec = dataclasses.replace(spec, key_prefix="whtp-", pid_offset=total - n)
            since = seed.scalar("SELECT now()")
            meter = cpu_meter(stack, seed)
            meter.start()
            started = time.monotonic()
            load = loadgen.run(spec, clients=sizes.webhook_clients, total=n)
            got = fast.reached.wait(sizes.webhook_wait_s)
            wall = time.monotonic() - started
            delivered = len(fast.ids)
            whole = delivered / wall
            cpu = meter.stop()
            log(
                f"claims to deliveries: {delivered:,} in {wall:.2f} s = {whole:,.0f}/s "
                f"(claims answered in {load.seconds:.2f} s)"
            )
            if not got:
                result.notes.append(f"claims to deliveries: only {delivered} of {n} in time")
            result.add(
                f"webhook deliveries/s, first claim to N-th delivery (N={n:,})",
                whole,
                "deliveries/s",
                baseline_name="plain signed POST loop, pooled httpx",
                baseline=base["per_s"],
            )
            extra["claims_to_deliveries"] = {
                "claims": n,
                "delivered": delivered,
                "wall_s": round(wall, 3),
                "claims_answered_s": round(load.seconds, 3),
                "statuses": load.statuses,
                "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
                "worker_cpu_ms_per_claim_and_delivery": round(
                    cpu["worker"] * 1000 / max(delivered, 1), 2
                ),
                "detail": where_time_goes(seed, since, fast.url),
            }

            # 2. latency, one endpoint
            alone = _latency_phase(
                ctx, stack, seed, tenant, fast, reward=reward, pid_start=0, label="one endpoint"
            )
            rtt = base["rtt_ms"]
            result.add(
                f"claim request to delivery p50, {sizes.webhook_rate:g} claims/s",
                alone["p50"],
                "ms",
                baseline_name="plain loop POST round trip p50",
                baseline=rtt["p50"],
            )
            result.add(
                f"claim request to delivery p99, {sizes.webhook_rate:g} claims/s",
                alone["p99"],
                "ms",
                baseline_name="plain loop POST round trip p99",
                baseline=rtt["p99"],
            )
            result.targets.append(
                Target("delivery latency p50 (ms)", alone["p50"], 100, higher_is_better=False)
            )
            result.targets.append(
                Target("delivery latency p99 (ms)", alone["p99"], 1000, higher_is_better=False)
            )
            extra["latency_one"] = alone

            # 3. the same beside a slow endpoint
            add_endpoint(stack, tenant, slow.url)
            slow.expect(0)
            beside = _latency_phase(
                ctx,
                stack,
                seed,
                tenant,
                fast,
                reward=reward,
                pid_start=per_phase,
                label="beside a slow endpoint",
            )
            beside["slow_endpoint_requests"] = slow.requests
            result.add(
                f"healthy endpoint p99 beside one answering after {sizes.webhook_slow_s:g} s",
                beside["p99"],
                "ms",
                baseline_name="its p99 alone (part 2)",
                baseline=alone["p99"],
            )
            result.add(
                "healthy endpoint p50 beside the slow one",
                beside["p50"],
                "ms",
                baseline_name="its p50 alone (part 2)",
                baseline=alone["p50"],
            )
            result.targets.append(
                Target(
                    "healthy p99 beside a slow endpoint / alone",
                    beside["p99"] / alone["p99"] if alone["p99"] else None,
                    2.0,
                    higher_is_better=False,
                    detail=f"{beside['p99']:,.0f} ms vs {alone['p99']:,.0f} ms",
                )
            )
            extra["latency_beside_slow"] = beside
    finally:
        fast.close()
        slow.close()
    extra["loadgen"] = loadgen.tool()
    result.extra = extra
    return result


def _latency_phase(
    ctx: Context,
    stack: Stack,
    seed: Seeder,
    tenant: Tenant,
    receiver: Receiver,
    *,
    reward: str,
    pid_start: int,
    label: str,
) -> dict[str, Any]:
    sizes = ctx.sizes
    receiver.expect(0)
    since = seed.scalar("SELECT now()")
    sent, statuses, achieved = paced_claims(
        stack,
        tenant,
        reward_id=reward,
        rate=sizes.webhook_rate,
        seconds=sizes.webhook_secs,
        pid_start=pid_start,
    )
    found, missing = latencies(receiver, sent, timeout_s=sizes.webhook_wait_s)
    one = {
        "claims": len(sent),
        "achieved_rate": round(achieved, 1),
        "statuses": statuses,
        "delivered": len(found),
        "missing": missing,
        "p50": percentile(found, 50),
        "p90": percentile(found, 90),
        "p99": percentile(found, 99),
        "max": max(found) if found else float("nan"),
        "mean": statistics.fmean(found) if found else float("nan"),
        "detail": where_time_goes(seed, since, receiver.url),
    }
    log(f"latency {label} detail: {one['detail']}")
    log(
        f"latency {label}: {len(found):,} of {len(sent):,} delivered at {achieved:.0f} claims/s; "
        f"p50 {one['p50']:.0f} p99 {one['p99']:.0f} max {one['max']:.0f} ms; statuses {statuses}"
    )
    return one
