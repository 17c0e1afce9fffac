"""Hop timestamps of a claim's journey, for the latency breakdown (docs/performance.md).

A claim crosses two processes: the API records it and waits, a worker decides it in a
batch. Each side marks the wall-clock time (`time.time()`, seconds since the epoch: both
processes run on one clock on one machine) at each hop it sees and logs them as one JSON
line on the `coffer.timeline` logger, at DEBUG:

- API, one line per claim request: received, committed (recorded), enqueued (doorbell
  rung), outcome (notice or timeout), responded; keyed by `request_id`.
- worker, one line per batch: task_started, batch_started, locked, decided, committed,
  notified; with the `request_ids` of its claims. A lingering drain's batches
  (core/claims/linger.py) carry `woken`, the time a claim woke it, instead of
  task_started: no task started them.

`bench/breakdown.py` joins the two by request id. With the logger above DEBUG (every
level but DEBUG) nothing is recorded: `begin()` hands out a shared object whose `mark`
does nothing, so the claim path pays one attribute lookup per hop.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("coffer.timeline")


class Hops:
    """Named wall-clock times, in the order they were marked."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    def mark(self, hop: str, at: float | None = None) -> None:
        self.at[hop] = time.time() if at is None else at

    def emit(self, message: str, **fields: Any) -> None:
        log.debug(message, extra={"hops": self.at, **fields})


class _Off(Hops):
    """What `begin()` gives while the timeline is off: marks and lines go nowhere."""

    def mark(self, hop: str, at: float | None = None) -> None:
        return None

    def emit(self, message: str, **fields: Any) -> None:
        return None


OFF = _Off()


def begin(first_hop: str | None = None) -> Hops:
    """A fresh record of hops (with `first_hop` marked now), or OFF when not at DEBUG."""
    if not log.isEnabledFor(logging.DEBUG):
        return OFF
    hops = Hops()
    if first_hop is not None:
        hops.mark(first_hop)
    return hops
