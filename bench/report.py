"""Figures beside their baselines, targets, the printed table and the JSON file."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or baseline is None or baseline == 0 or math.isnan(baseline):
        return None
    return value / baseline


@dataclass
class Figure:
    """One measured figure beside the baseline it is read against (same run)."""

    name: str
    value: float | None
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    baseline_unit: str = ""  # when it differs from `unit`
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return ratio(self.value, self.baseline)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


@dataclass
class Target:
    """A target from issue 4: `value` (usually a ratio) compared with `threshold`."""

    name: str
    value: float | None
    threshold: float
    higher_is_better: bool
    detail: str = ""
    held: bool = True  # e.g. the stampede's invariants, which must hold too

    @property
    def passed(self) -> bool:
        if self.value is None or not self.held:
            return False
        if self.higher_is_better:
            return self.value >= self.threshold
        return self.value <= self.threshold

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


@dataclass
class Result:
    script: str
    figures: list[Figure] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    def add(self, *args: Any, **kwargs: Any) -> Figure:
        figure = Figure(*args, **kwargs)
        self.figures.append(figure)
        return figure

    def as_dict(self) -> dict[str, Any]:
        return {
            "script": self.script,
            "seconds": round(self.seconds, 1),
            "error": self.error,
            "figures": [f.as_dict() for f in self.figures],
            "targets": [t.as_dict() for t in self.targets],
            "notes": self.notes,
            "extra": self.extra,
        }


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit in {"claims/s", "req/s", "commits/s", "claims"} or abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip()


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def print_result(result: Result) -> None:
    print(f"\n== {result.script} ({result.seconds:.0f} s)")
    if result.error:
        print(f"   ERROR: {result.error}")
    if result.figures:
        rows = [
            (
                f.name,
                fmt(f.value, f.unit),
                f.baseline_name,
                fmt(f.baseline, f.baseline_unit or f.unit),
                fmt_ratio(f.ratio),
            )
            for f in result.figures
        ]
        _table(("figure", "value", "baseline (same run)", "baseline", "ratio"), rows)
    for target in result.targets:
        print(f"   {_verdict(target)}")
    for note in result.notes:
        print(f"   note: {note}")


def _verdict(target: Target) -> str:
    mark = "PASS" if target.passed else "MISS"
    op = ">=" if target.higher_is_better else "<="
    shown = "-" if target.value is None else f"{target.value:.3g}"
    detail = f" ({target.detail})" if target.detail else ""
    return f"{mark}  {target.name}: {shown} {op} {target.threshold:g}{detail}"


def print_targets(results: list[Result]) -> None:
    targets = [t for r in results for t in r.targets]
    if not targets:
        return
    print("\n== targets (issues 4 and 11)")
    for target in targets:
        print(f"   {_verdict(target)}")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "   " + "  ".join("{:<%d}" % w for w in widths)  # noqa: UP031
    print(line.format(*header))
    print("   " + "  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
