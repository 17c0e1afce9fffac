"""`coffer serve`: API, Celery worker and periodic jobs in one process.

With no broker configured, Celery runs on its in-process transport: the API
publishes drain tasks exactly as in production and worker threads in this
process consume them, so the same code path runs in both setups.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery
from celery.beat import EmbeddedService

log = logging.getLogger("coffer.serve")


def start_worker(celery: Celery, *, concurrency: int = 2) -> None:
    """A Celery worker on threads inside this process."""
    import workers.tasks.claims  # noqa: PLC0415 - register the tasks before consuming
    import workers.tasks.sweeps  # noqa: F401, PLC0415

    worker = celery.WorkController(
        pool_cls="threads",
        concurrency=concurrency,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        hostname="embedded@coffer",
    )
    threading.Thread(target=worker.start, name="celery-worker", daemon=True).start()


def start_beat(celery: Celery) -> None:
    """Celery beat, as a thread, publishing the periodic jobs to the in-process worker."""
    beat = EmbeddedService(celery, thread=True, scheduler_cls="celery.beat:Scheduler")
    beat.start()


def listen_http(app: object, *, host: str, port: int, threads: int) -> Any:
    """A waitress server bound to host:port (OSError if it cannot be); `.run()` serves."""
    from waitress import create_server  # noqa: PLC0415

    server = create_server(app, host=host, port=port, threads=threads, ident="coffer")
    # waitress warns "Task queue depth is N" for every request that waits for a free
    # thread: under load (claims hold a thread while they wait for their outcome) that
    # is one warning per request, flooding the log with the expected. Errors still show.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    log.info("coffer listening", extra={"url": f"http://{host}:{port}"})
    return server
