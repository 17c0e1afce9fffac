"""Beat's liveness signal: a file its scheduler touches at every tick, and a check of it.

Beat serves nothing a health check could ask, so the scheduler loop proves itself:
`HeartbeatScheduler.tick` (the one loop beat runs; with the 1-second webhooks-due entry
it ticks at least once a second) touches `heartbeat_path()`, and

    python -m workers.heartbeat --max-age 30

exits 0 while the file is younger than 30 seconds, 1 otherwise (a hung or dead beat).
The file lives in the temporary directory (TMPDIR), private to a container; a broker
outage does not stop the loop, so a restart is never asked for what it cannot cure.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from celery.beat import Scheduler

FILE_NAME = "coffer-beat.heartbeat"


def heartbeat_path() -> Path:
    return Path(tempfile.gettempdir()) / FILE_NAME


class HeartbeatScheduler(Scheduler):
    """celery.beat.Scheduler (the schedule is code, no shelve file) that touches the
    heartbeat file after every tick."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval: float = super().tick(*args, **kwargs)
        heartbeat_path().touch()
        return interval


def age_s(path: Path | None = None) -> float | None:
    """Seconds since the last tick, or None when beat never ticked here."""
    try:
        return time.time() - (path or heartbeat_path()).stat().st_mtime
    except FileNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 if beat ticked within --max-age seconds, else 1 (with one line why)."""
    parser = argparse.ArgumentParser(prog="python -m workers.heartbeat", description=__doc__)
    parser.add_argument("--max-age", type=float, default=30.0, help="seconds [30]")
    max_age = parser.parse_args(argv).max_age
    age = age_s()
    if age is None or age > max_age:
        seen = "never" if age is None else f"{age:.0f} s ago"
        print(f"beat: last tick {seen} (limit {max_age:g} s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
