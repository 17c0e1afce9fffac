"""The fixed cost of a one-claim batch, in counts and CPU time that load distorts least.

`python -m bench.batch_cost [--batches N] [--task] [--profile FILE]`

One process records a paid claim (points deducted, a pooled code) and then runs the
worker's drain on it alone, N times. Around the drain only it meters:

- statements sent per batch (SQLAlchemy `before_cursor_execute`, BEGIN/COMMIT
  included) and round trips per batch: `sendto` calls on the drain connection's
  socket, counted by the caller under `strace` (the socket fd is printed);
- CPU ms per batch of this process (`time.process_time`, the drain's Python) and of
  the PostgreSQL backend serving the drain connection (`/proc/<pid>/stat`);
- wall ms per batch (load inflates it; printed, not compared).

`--task` runs the Celery task body (`workers.tasks.claims.drain_claims.run()`, with
the doorbell, the Redis outcome notice, the metrics and the relay wake-up) instead
of `Drain.run` with no publisher, so the per-task extras count too; it needs Redis.
`--relay` adds the facts relay task's body after each drain (what the wake-up asks
the worker for); what Celery itself spends receiving and running the tasks is still
outside.
`--profile FILE` writes a cProfile of the drains timed by CPU (`time.process_time`),
sorted by cumulative time (deterministic profiling inflates it; the shares are the point).

A/B between two commits: export the other commit (`git archive C | tar -x -C DIR`)
and run `PYTHONPATH=DIR python DIR/../this-file` alternately with this tree; the
script imports Coffer from the first entry of sys.path that has it. Prints one JSON
line at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

from sqlalchemy import event, text

from core.claims.drain import Drain
from core.db import Database
from core.migrate import upgrade
from core.notify import PolledOutcomes
from tests.support.claims import accept, credit, new_reward
from tests.support.services import fresh_database, private_redis_db
from tests.support.tenants import make_tenant

_CLK = os.sysconf("SC_CLK_TCK")


def _backend_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK  # utime + stime


def _callgrind(state: str) -> None:
    """Switch callgrind's instrumentation of this process on or off (accept() runs too,
    between drains, so the count covers recording as well: the same in every A/B arm)."""
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--task", action="store_true")
    parser.add_argument(
        "--relay",
        action="store_true",
        help="with --task: also run the facts relay task body after each drain, as the"
        " worker does when the drain wakes it",
    )
    parser.add_argument("--profile")
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="under `valgrind --tool=callgrind --instr-atstart=no`: count instructions"
        " of the drains only (switched on and off with callgrind_control)",
    )
    args = parser.parse_args(argv)

    with fresh_database("batchcost") as url, private_redis_db(descending=True) as redis_url:
        upgrade(url)
        recorder = Database(url, pool_size=1)
        tenant = make_tenant(recorder)
        total = args.batches + args.warmup
        reward = new_reward(recorder, tenant, codes=total + 10, points_cost=10)
        for i in range(total):
            credit(recorder, tenant, f"p{i}", 1000)

        if args.task:
            os.environ.update(
                COFFER_DATABASE_URL=url,
                COFFER_REDIS_URL=redis_url,
                COFFER_BROKER_URL=redis_url,
                COFFER_LOG_LEVEL="WARNING",
            )
            # Imported after the settings are in the environment: the Celery app reads them.
            from core.runtime import get_runtime  # noqa: PLC0415
            from workers.tasks.claims import drain_claims  # noqa: PLC0415
            from workers.tasks.relay import relay_facts  # noqa: PLC0415

            db = get_runtime().db

            def drain() -> None:
                drain_claims.run()
                if args.relay:
                    relay_facts.run()
        else:
            db = Database(url, pool_size=1)
            drainer = Drain(db, PolledOutcomes(db), batch_size=200)

            def drain() -> None:
                drainer.run()

        statements = 0

        def count(*_: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(db.engine, "before_cursor_execute", count)
        event.listen(db.engine, "begin", count)
        event.listen(db.engine, "commit", count)
        with db.engine.connect() as probe:
            backend = probe.scalar(text("SELECT pg_backend_pid()"))
            fd = probe.connection.driver_connection.pgconn.socket  # type: ignore[union-attr]
        # The pool holds one connection: every drain below runs on this backend.
        print(f"drain connection: backend pid {backend}, socket fd {fd}", file=sys.stderr)

        walls: list[float] = []
        profiler = None
        cpu = pg = 0.0
        for n in range(total):
            accept(recorder, tenant, reward, f"p{n}", key=uuid.uuid4().hex, deduct=True)
            if n == args.warmup:
                statements = 0
                cpu, pg = time.process_time(), _backend_cpu_s(backend)
                if args.profile:
                    profiler = cProfile.Profile(time.process_time)  # CPU time, not wall
                    profiler.enable()
                if args.callgrind:
                    _callgrind("on")
            started = time.perf_counter()
            drain()
            if n >= args.warmup:
                walls.append(time.perf_counter() - started)
        cpu, pg = time.process_time() - cpu, _backend_cpu_s(backend) - pg
        if args.callgrind:
            _callgrind("off")
        if profiler is not None:
            profiler.disable()
            with open(args.profile, "w") as handle:
                stats = pstats.Stats(profiler, stream=handle)
                stats.sort_stats("cumulative").print_stats(60)
        pending = recorder.engine.connect().scalar(
            text("SELECT count(*) FROM claims WHERE status <> 'succeeded'")
        )
        recorder.dispose()
        db.dispose()
    n = args.batches
    result = {
        "code": os.path.dirname(os.path.dirname(sys.modules["core"].__file__ or "")),
        "mode": ("task+relay" if args.relay else "task") if args.task else "drain",
        "batches": n,
        "not_succeeded": pending,
        "statements_per_batch": round(statements / n, 2),
        "worker_cpu_ms": round(cpu * 1000 / n, 3),
        "pg_cpu_ms": round(pg * 1000 / n, 3),
        "wall_ms_p50": round(statistics.median(walls) * 1000, 2),
        "load1": os.getloadavg()[0],
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
