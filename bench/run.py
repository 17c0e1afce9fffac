"""The entry point: `python -m bench [SCRIPT ...] [--quick] [--set NAME=VALUE ...]`.

Also runnable as `python bench/run.py`. Scripts run in the order given (all
nine by default); the ceiling, when it runs, is the baseline of the later ones.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

if __package__ in {None, ""}:  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen
from bench.config import Context, build_sizes
from bench.infra import RESULTS, git_revision
from bench.procmem import SOURCE as MEMORY_SOURCE
from bench.report import Result, print_result, print_targets, write_json

SCRIPTS = (
    "ceiling",
    "e2e",
    "worker",
    "inventory",
    "stampede",
    "memory",
    "campaigns",
    "webhooks",
    "breakdown",
)
ALIASES = {"end-to-end": "e2e", "worker-only": "worker", "all": "all"}


def _script(name: str):
    import importlib  # noqa: PLC0415

    return importlib.import_module(f"bench.{name}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Claim-speed benchmarks (issue 4). Every figure is printed beside a "
        "baseline measured in the same run, as a ratio; results go to bench/results/.",
    )
    parser.add_argument(
        "scripts",
        nargs="*",
        metavar="SCRIPT",
        help=f"any of: {', '.join(SCRIPTS)} (default: all, in that order)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes (about a minute)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one size, e.g. --set e2e_secs=5 --set e2e_clients=1,8 (see bench/config.py)",
    )
    parser.add_argument(
        "--loadgen",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="HTTP load generator (auto: wrk if installed, else the asyncio client)",
    )
    parser.add_argument(
        "--no-install", action="store_true", help="do not try `apt-get install wrk` when missing"
    )
    parser.add_argument("--out", type=Path, help="JSON results file (default: bench/results/...)")
    args = parser.parse_args(argv)
    chosen = []
    for given in args.scripts or ["all"]:
        name = ALIASES.get(given, given)
        if name == "all":
            chosen.extend(s for s in SCRIPTS if s not in chosen)
        elif name in SCRIPTS:
            chosen.append(name)
        else:
            parser.error(f"unknown script {name!r}; choose from {', '.join(SCRIPTS)}")
    args.scripts = chosen
    return args


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds the cleanups: processes, database, Redis


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    ctx = Context(
        sizes=build_sizes(quick=args.quick, overrides=args.overrides),
        quick=args.quick,
        logs=RESULTS / "logs" / stamp,
    )
    ctx.loadgen = loadgen.choose(args.loadgen, install=not args.no_install)
    out = args.out or RESULTS / f"{stamp}-{'quick' if args.quick else 'full'}.json"
    meta = {
        "started_at": stamp,
        "mode": ctx.mode,
        "scripts": args.scripts,
        "git": git_revision(),
        "loadgen": ctx.loadgen,
        "memory_source": MEMORY_SOURCE,
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "sizes": vars(ctx.sizes),
    }
    print(
        f"coffer bench ({ctx.mode}): {', '.join(args.scripts)}; load generator {ctx.loadgen}; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    results: list[Result] = []
    for name in args.scripts:
        print(f"\n-- {name}", flush=True)
        started = time.monotonic()
        try:
            result = _script(name).run(ctx)
        except (Exception, KeyboardInterrupt) as error:
            result = Result(name, error=f"{type(error).__name__}: {error}")
            traceback.print_exc()
            if isinstance(error, KeyboardInterrupt):
                results.append(result)
                break
        result.seconds = time.monotonic() - started
        results.append(result)
        print_result(result)
        meta["loadavg_at_end"] = os.getloadavg()
        write_json(out, {"meta": meta, "results": [r.as_dict() for r in results]})
    print_targets(results)
    print(f"\nresults: {out}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
