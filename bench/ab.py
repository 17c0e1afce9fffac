"""Alternate two bench configurations and report per-pair ratios (A B A B ...).

    python -m bench.ab --pairs 4 --a "--set claim_linger_ms=0" --b "--set claim_linger_ms=20" \\
        -- e2e --quick --set e2e_secs=4

runs `python -m bench <common args> <A args>` then `... <B args>`, `--pairs` times, each
with its own results file under `--out` (default bench/results/ab-<UTC time>/), then prints,
for every figure, target and per-process CPU figure the runs share, the median of each
side and the median (min-max) of the per-pair ratios B/A: on a noisy machine the ratio of
two runs taken back to back is the figure to trust, not either run alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.infra import RESULTS


def figures(path: Path) -> dict[str, float]:
    """Every number of a results file worth comparing, by name (first script's result)."""
    found: dict[str, float] = {}
    for result in json.loads(path.read_text())["results"]:
        for figure in result.get("figures", []):
            found[figure["name"]] = figure["value"]
        for target in result.get("targets", []):
            found["target: " + target["name"]] = target["value"]
        phases: dict[str, Any] = (result.get("extra") or {}).get("phases", {})
        for phase, data in phases.items():
            if isinstance(data, dict):
                for process, cpu in (data.get("cpu_ms_per_claim") or {}).items():
                    found[f"CPU ms per claim, {phase}, {process}"] = cpu
    return found


def table(runs: list[tuple[dict[str, float], dict[str, float]]], a: str, b: str) -> str:
    header = "| figure | A median | B median | B/A per pair, median (min-max) |"
    lines = [header, "|---|---|---|---|"]
    for name in runs[0][0]:
        pairs = [(x[name], y[name]) for x, y in runs if name in x and name in y]
        ratios = [y / x for x, y in pairs if x]
        if len(pairs) < len(runs) or not ratios:
            continue
        lines.append(
            f"| {name} | {statistics.median(p[0] for p in pairs):.3g} | "
            f"{statistics.median(p[1] for p in pairs):.3g} | {statistics.median(ratios):.2f} "
            f"({min(ratios):.2f}-{max(ratios):.2f}) |"
        )
    return f"A: {a}\nB: {b}\n{len(runs)} pairs\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3, help="A B rounds (default 3)")
    parser.add_argument("--a", default="", help="bench arguments of side A (the baseline)")
    parser.add_argument("--b", default="", help="bench arguments of side B")
    parser.add_argument("--out", type=Path, help="folder for the runs' JSON and logs")
    parser.add_argument("common", nargs=argparse.REMAINDER, help="-- bench arguments for both")
    args = parser.parse_args(argv)
    common = args.common[1:] if args.common[:1] == ["--"] else args.common
    out = args.out or RESULTS / f"ab-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    out.mkdir(parents=True, exist_ok=True)
    runs: list[tuple[dict[str, float], dict[str, float]]] = []
    for pair in range(1, args.pairs + 1):
        sides: list[dict[str, float]] = []
        for side, extra in (("a", args.a), ("b", args.b)):
            result = out / f"{side}-{pair}.json"
            command = [sys.executable, "-m", "bench", *common, *shlex.split(extra)]
            command += ["--out", str(result)]
            with open(out / f"{side}-{pair}.log", "wb") as log:
                code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"pair {pair} {side.upper()}: exit {code}, load {load}", flush=True)
            if code != 0 or not result.exists():
                print(f"  see {out / f'{side}-{pair}.log'}", file=sys.stderr)
                return 1
            sides.append(figures(result))
        runs.append((sides[0], sides[1]))
    report = table(runs, args.a or "(defaults)", args.b or "(defaults)")
    (out / "summary.md").write_text(report + "\n")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
