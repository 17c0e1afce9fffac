"""A drain that lingers: after its last short batch it waits a few milliseconds for the
next claim instead of ending its task (COFFER_CLAIM_LINGER_MS, issue 11 item 3).

At one synchronous client every claim otherwise pays a broker message and a task
dispatch. This is only the loop; the doorbell that wakes it, and why no claim is left
behind, are the queue's (`workers/queue.py`).
"""

from __future__ import annotations

import time
from typing import Protocol

from core.claims.drain import Drain, DrainReport

_SHORTEST_WAIT_S = 0.001  # Redis reads a BLPOP timeout of 0 as "forever"
# A task stops lingering this long after it started and hands over to a fresh task: a
# warm shutdown (SIGTERM) then waits about this long, not the 30 s budget, under a steady
# trickle of claims; the price is one broker message a second while claims keep coming.
HANDOVER_S = 1.0


class LingeringBell(Protocol):
    """The doorbell as a lingering drain sees it. Never raises: a Redis error ends the
    linger (False, None, 0), and the key's expiry and the sweep take over."""

    def linger(self, *, again: bool) -> bool: ...
    def wait_for_claim(self, timeout_s: float) -> bool | None: ...
    def stop_lingering(self) -> int: ...


def drain_lingering(
    drain: Drain,
    bell: LingeringBell,
    *,
    linger_ms: int,
    budget_s: float = 30.0,
    lingering: bool = True,
    handover_s: float = HANDOVER_S,
) -> DrainReport:
    """Drain, then keep draining while claims arrive less than `linger_ms` apart, within
    `budget_s` in all, lingering only during the first `handover_s`. `out_of_time` in the
    report: the caller hands over to a new task.
    `lingering`: the task already marked the doorbell "lingering" as it started
    (`ClaimQueue.answered`), so claims recorded during the first batches left tokens."""
    started = time.monotonic()
    deadline, linger_until = started + budget_s, started + handover_s
    total = DrainReport()
    woken_at: float | None = None
    while True:
        total.add(drain.run(budget_s=deadline - time.monotonic(), woken_at=woken_at))
        if total.out_of_time or time.monotonic() >= linger_until:
            break
        if not bell.linger(again=lingering):
            return total  # a task is on its way (or another drain lingers): end as before
        lingering = True
        wait_s = min(linger_ms / 1000, deadline - time.monotonic())
        if wait_s < _SHORTEST_WAIT_S:
            break
        woke = bell.wait_for_claim(wait_s)
        if woke is None:
            return total  # Redis failed: the "lingering" key expires shortly
        if not woke:
            lingering = False
            if bell.stop_lingering() == 0:
                return total  # no claim came: the next one rings as before
            # A token arrived between the wait's end and the exit: its claim is committed.
        woken_at = time.time()
    if lingering:
        bell.stop_lingering()  # tokens left are the new task's: it drains everything pending
    total.out_of_time = True
    return total
