"""Load generators: wrk with bench/claims.lua, or a lean asyncio HTTP/1.1 client.

Both are closed-loop (each connection sends its next request when the last is
answered), use keep-alive connections, give every claim a unique
Idempotency-Key and participant id from its global index, and report counts by
HTTP status and latency percentiles. wrk is preferred: it is C and shares the
2 cores with the server far more cheaply than any Python client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.infra import ROOT, log

LUA = ROOT / "bench" / "claims.lua"
_MAX_RETRIES = 20
_chosen: str | None = None


@dataclass
class LoadResult:
    tool: str
    clients: int
    seconds: float  # wall time of the load generator
    statuses: dict[int, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50 p90 p95 p99 max mean
    errors: int = 0  # socket errors and timeouts (not HTTP statuses)
    resent: int = 0  # claims sent again with the same key after a connection error
    cpu_s: float = 0.0  # the load generator's own CPU (user + system)

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0

    def count(self, *codes: int) -> int:
        return sum(self.statuses.get(code, 0) for code in codes)

    def as_dict(self) -> dict[str, object]:
        return {
            "tool": self.tool,
            "clients": self.clients,
            "seconds": round(self.seconds, 3),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "latency_ms": {k: round(v, 2) for k, v in self.latency_ms.items()},
            "errors": self.errors,
            "resent": self.resent,
            "cpu_s": round(self.cpu_s, 2),
            "rate": round(self.rate, 1),
        }


def choose(preference: str, *, install: bool) -> str:
    """`wrk` or `python`; with `auto`, wrk when present (installed with apt-get if allowed)."""
    global _chosen  # noqa: PLW0603 - one choice per bench process
    if preference == "python":
        _chosen = "python"
    elif shutil.which("wrk"):
        _chosen = "wrk"
    elif install and os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: trying apt-get install -y wrk")
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            capture_output=True,
            check=False,
            timeout=300,
        )
        _chosen = "wrk" if shutil.which("wrk") else "python"
    else:
        _chosen = "python"
    if preference == "wrk" and _chosen != "wrk":
        raise RuntimeError("--loadgen wrk: wrk is not installed and could not be installed")
    return _chosen


def tool() -> str:
    return _chosen or choose("auto", install=False)


@dataclass(frozen=True)
class Claims:
    """What to send: claims of one reward, or GETs of a path (mode `get`)."""

    base_url: str
    path: str
    token: str = ""
    prefer: str | None = None  # e.g. "respond-async"
    key_prefix: str = "k"
    participants: int = 1
    pid_prefix: str = "p"
    pid_offset: int = 0
    mode: str = "claim"


def run(spec: Claims, *, clients: int, seconds: float = 0, total: int = 0) -> LoadResult:
    """Run for `seconds`, or until `total` claims are answered (whichever is given)."""
    if (seconds > 0) == (total > 0):
        raise ValueError("give seconds or total")
    before = _cpu()
    if tool() == "wrk":
        result = _run_wrk(spec, clients=clients, seconds=seconds, total=total)
    else:
        result = asyncio.run(_run_python(spec, clients=clients, seconds=seconds, total=total))
    result.cpu_s = _cpu() - before
    return result


def _cpu() -> float:
    """CPU of this process (the asyncio client) and its reaped children (wrk)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


# ------------------------------------------------------------------------ wrk


def _run_wrk(spec: Claims, *, clients: int, seconds: float, total: int) -> LoadResult:
    threads = max(1, min(2, clients, total or clients))
    clients = max(clients, threads)
    # A fixed count ends with SIGINT once every thread is done (see claims.lua);
    # -d is then only a bound in case the server stalls.
    duration = math.ceil(seconds) if seconds else 900
    with tempfile.TemporaryDirectory(prefix="coffer-bench-wrk-") as done_dir:
        args = ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{duration}s"]
        args += ["--timeout", "30s", "-s", str(LUA), spec.base_url + spec.path, "--"]
        args += [spec.mode, spec.path, spec.token or "-", spec.prefer or "-", spec.key_prefix]
        args += [str(threads), str(total), str(spec.participants), spec.pid_prefix]
        args += [str(spec.pid_offset), done_dir]
        started = time.monotonic()
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        finished_at = None
        if total:
            while process.poll() is None:
                if len(os.listdir(done_dir)) >= threads:
                    finished_at = time.monotonic()
                    process.send_signal(signal.SIGINT)
                    break
                time.sleep(0.005)
        stdout, stderr = process.communicate()
        elapsed = (finished_at or time.monotonic()) - started
    line = next((x for x in stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({process.returncode}): {stderr.strip() or stdout}")
    data = json.loads(line.removeprefix("WRKJSON "))
    wrk_seconds = data["duration_us"] / 1e6
    return LoadResult(
        tool="wrk",
        clients=clients,
        seconds=min(wrk_seconds, elapsed) if wrk_seconds > 0 else elapsed,
        statuses={int(k): v for k, v in data["statuses"].items()},
        latency_ms={k: v / 1000 for k, v in data["latency_us"].items()},
        errors=sum(v for k, v in data["errors"].items() if k != "status"),
        resent=data.get("resent", 0),
    )


# --------------------------------------------------------- asyncio fallback


class _Plan:
    """Hands out request indices to connections until the time or the count is up."""

    def __init__(self, spec: Claims, *, seconds: float, total: int) -> None:
        self.spec = spec
        self.total = total
        self.deadline = time.monotonic() + seconds if seconds else math.inf
        self.next_index = 0
        self.statuses: dict[int, int] = {}
        self.latencies: list[float] = []
        self.errors = 0
        self.resent = 0
        parts = urlsplit(spec.base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        common = f"Host: {self.host}:{self.port}\r\n"
        if spec.token:
            common += f"Authorization: Bearer {spec.token}\r\n"
        if spec.prefer:
            common += f"Prefer: {spec.prefer}\r\n"
        self.common = common

    def take(self) -> bytes | None:
        if time.monotonic() >= self.deadline or (self.total and self.next_index >= self.total):
            return None
        n = self.next_index
        self.next_index += 1
        spec = self.spec
        if spec.mode == "get":
            return f"GET {spec.path} HTTP/1.1\r\n{self.common}\r\n".encode()
        pid = f"{spec.pid_prefix}{spec.pid_offset + n % spec.participants + 1}"
        body = f'{{"participant_id":"{pid}","points_deduction":true}}'
        head = (
            f"POST {spec.path} HTTP/1.1\r\n{self.common}Content-Type: application/json\r\n"
            f"Idempotency-Key: {spec.key_prefix}{n}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return (head + body).encode()


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _connection(plan: _Plan) -> None:
    reader, writer = await asyncio.open_connection(plan.host, plan.port)
    try:
        request, failures = plan.take(), 0
        while request is not None:
            started = time.perf_counter()
            try:
                writer.write(request)
                status = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                # Send it again on a new connection: the same Idempotency-Key makes
                # a request that did arrive a replay, never a second claim.
                plan.errors += 1
                plan.resent += 1
                failures += 1
                if failures > _MAX_RETRIES:
                    raise
                writer.close()
                await asyncio.sleep(0.05 * failures)
                reader, writer = await asyncio.open_connection(plan.host, plan.port)
                continue
            request, failures = plan.take(), 0
            plan.latencies.append(time.perf_counter() - started)
            plan.statuses[status] = plan.statuses.get(status, 0) + 1
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _run_python(spec: Claims, *, clients: int, seconds: float, total: int) -> LoadResult:
    plan = _Plan(spec, seconds=seconds, total=total)
    started = time.monotonic()
    await asyncio.gather(*(_connection(plan) for _ in range(clients)))
    elapsed = time.monotonic() - started
    return LoadResult(
        tool="python-asyncio",
        clients=clients,
        seconds=elapsed,
        statuses=plan.statuses,
        latency_ms=_percentiles(plan.latencies),
        errors=plan.errors,
        resent=plan.resent,
    )


def _percentiles(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {}
    ordered = sorted(latencies)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)] * 1000

    return {
        "p50": at(50),
        "p90": at(90),
        "p95": at(95),
        "p99": at(99),
        "max": ordered[-1] * 1000,
        "mean": sum(ordered) / len(ordered) * 1000,
    }
