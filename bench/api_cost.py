"""The API's CPU per accepted claim, in process, with a profile of where it goes.

`python -m bench.api_cost [--requests N] [--profile FILE]`

Builds the API (`api.create_app`) on a fresh PostgreSQL database and a private Redis
database (the broker too), then sends N paid claims through Flask's test client with
`Prefer: respond-async` (answered 202 as soon as the claim is recorded; no worker
runs, so the doorbell stays rung and a drain task is sent only when it expires) and meters
`time.process_time` around the requests: the CPU one accepted request costs the API
process, without gunicorn's share. `--profile FILE` writes a cProfile of the requests
timed by CPU, sorted by cumulative time. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import time
import uuid
from typing import Any

from api import create_app
from core.migrate import upgrade
from core.runtime import build_runtime
from core.settings import Settings
from tests.support.claims import credit, new_reward
from tests.support.services import fresh_database, private_redis_db
from tests.support.tenants import make_tenant


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--profile")
    args = parser.parse_args(argv)
    total = args.requests + args.warmup
    with fresh_database("apicost") as url, private_redis_db(descending=True) as redis_url:
        upgrade(url)
        settings = Settings(
            database_url=url,
            redis_url=redis_url,
            broker_url=redis_url,
            rate_limit="1000000/second",
            log_level="WARNING",
            _env_file=None,  # type: ignore[call-arg]
        )
        runtime = build_runtime(settings)
        tenant = make_tenant(runtime.db)
        reward = new_reward(runtime.db, tenant, codes=10, points_cost=10)
        for i in range(total):
            credit(runtime.db, tenant, f"p{i}", 1000)
        client = create_app(runtime).test_client()
        headers = {**tenant.auth("live", "server"), "Prefer": "respond-async"}
        path = f"/api/v1/gamify/rewards/{reward}/claim"
        statuses: dict[int, int] = {}
        walls: list[float] = []
        profiler = None
        cpu = 0.0
        for n in range(total):
            if n == args.warmup:
                cpu = time.process_time()
                if args.profile:
                    profiler = cProfile.Profile(time.process_time)
                    profiler.enable()
            body = {"participant_id": f"p{n}", "points_deduction": True}
            started = time.perf_counter()
            response = client.post(
                path, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
            )
            walls.append(time.perf_counter() - started)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        cpu = time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
            with open(args.profile, "w") as handle:
                pstats.Stats(profiler, stream=handle).sort_stats("cumulative").print_stats(70)
        runtime.close()
    result = {
        "requests": args.requests,
        "statuses": statuses,
        "api_cpu_ms": round(cpu * 1000 / args.requests, 3),
        "wall_ms_p50": round(statistics.median(walls[args.warmup :]) * 1000, 2),
        "load1": os.getloadavg()[0],
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
