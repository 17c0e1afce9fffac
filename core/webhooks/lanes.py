"""Delivery lanes: threads of a worker process that run endpoints' rounds beside its tasks.

A Celery worker's processes are its task slots, and a claim drain holds one
for as long as claims keep coming (up to its time budget): a delivery task
sent after a drain's commit waited for a free slot, seconds at a steady 200
claims/s. So the facts a worker task relays are delivered by lanes of that
same process (a few threads; a round spends its time waiting on the network
and the database, the task keeps the CPU). Deliveries sent from elsewhere
(the API's retry, the periodic job, a successor) still go as Celery tasks.

Nothing the guarantees rest on lives here: an offer is a hint. The lease is
in the database (one round of one holder per endpoint, whoever holds it), so
a lane and a task never attempt the same delivery at once, and if the process
dies with offers queued or a round under way, the deliveries stay due (or
their lease runs out) and the periodic job offers them again.

An endpoint is queued once, and run by one lane of this process at a time: an
offer for an endpoint whose round is under way marks it to run again when
that run ends, so a delivery relayed meanwhile is not left to the periodic
job. A slow endpoint holds one lane; the others keep running.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable

log = logging.getLogger("coffer.webhooks")
LANES = 4  # threads per worker process


class Lanes:
    """Runs `run(endpoint_pk) -> more` on up to `lanes` threads; `more` asks for another run.

    Threads start on the first offer (so a forked child builds its own) and are daemons.
    """

    def __init__(self, run: Callable[[int], bool], *, lanes: int = LANES) -> None:
        self._run = run
        self._lanes = lanes
        self._queue: deque[int] = deque()
        self._queued: set[int] = set()
        self._running: set[int] = set()
        self._again: set[int] = set()
        self._ready = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def offer(self, endpoint_pks: Iterable[int]) -> None:
        """Queue these endpoints for a run (each once); never blocks on a run."""
        with self._ready:
            if self._stopping:
                return  # the periodic job offers them again to a process that runs on
            for pk in endpoint_pks:
                if pk in self._running:
                    self._again.add(pk)
                elif pk not in self._queued:
                    self._queued.add(pk)
                    self._queue.append(pk)
                    self._ready.notify()
            while len(self._threads) < self._lanes:
                thread = threading.Thread(target=self._lane, name="coffer-lane", daemon=True)
                self._threads.append(thread)
                thread.start()

    def idle(self) -> bool:
        """Nothing queued or running (for tests and shutdown)."""
        with self._ready:
            return not self._queue and not self._running

    def stop(self, timeout_s: float) -> bool:
        """Start no further run and wait up to `timeout_s` for the runs under way (a process
        shutting down); True if none is left. Queued endpoints are dropped: their
        deliveries stay due for the periodic job."""
        with self._ready:
            self._stopping = True
            self._queue.clear()
            self._queued.clear()
            return self._ready.wait_for(lambda: not self._running, timeout_s)

    def _lane(self) -> None:
        while True:
            with self._ready:
                while not self._queue or self._stopping:
                    self._ready.wait()
                pk = self._queue.popleft()
                self._queued.discard(pk)
                self._running.add(pk)
            more = False
            try:
                more = self._run(pk)
            except Exception:  # the lane lives on; the deliveries' leases run out, then retry
                log.exception("a delivery lane's run failed; the periodic job will retry")
            with self._ready:
                self._running.discard(pk)
                self._ready.notify_all()  # a stop() may be waiting for the last run
                if self._stopping:
                    continue
                if (more or pk in self._again) and pk not in self._queued:
                    self._queued.add(pk)
                    self._queue.append(pk)
                    self._ready.notify()
                self._again.discard(pk)
