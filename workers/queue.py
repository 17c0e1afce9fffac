"""Waking workers for pending claims, without one broker message per claim.

Each accepted claim rings a doorbell: a Redis key set with NX. Only the request
that sets it sends a drain task; the task clears it when it starts and then
drains everything pending. A claim recorded while the key is set is therefore
seen by a drain that has not started yet. Without Redis every claim sends a
task (a drain that finds nothing pending costs one query). The key expires, so
a lost message only delays claims until the next request or sweep.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from workers.celery_app import CAMPAIGN_TASK, DRAIN_TASK, QUEUE

log = logging.getLogger("coffer.queue")
DOORBELL_TTL_MS = 2000


class ClaimQueue:
    def __init__(self, celery: Celery, redis: Any | None, *, namespace: str = "coffer") -> None:
        self.celery = celery
        self.redis = redis
        self.doorbell = f"{namespace}:claims-doorbell"

    def wake(self, *, force: bool = False) -> bool:
        """Ask a worker to drain pending claims. Never raises: the sweep is the fallback."""
        try:
            if not force and not self._ring():
                return False  # a drain is already on its way and will see this claim
            self.celery.send_task(DRAIN_TASK)
            return True
        except Exception:
            log.warning("could not enqueue a claim drain; the sweep will", exc_info=True)
            self._clear()
            return False

    def wake_campaign(self, campaign_id: str) -> bool:
        """Ask a worker for the campaign's next chunk. Never raises: the sweep resumes it."""
        try:
            self.celery.send_task(CAMPAIGN_TASK, args=[campaign_id])
            return True
        except Exception:
            log.warning("could not enqueue a campaign chunk; the sweep will", exc_info=True)
            return False

    def _ring(self) -> bool:
        if self.redis is None:
            return True
        try:
            return bool(self.redis.set(self.doorbell, "1", nx=True, px=DOORBELL_TTL_MS))
        except Exception as error:
            # COFFER_REDIS_URL is down but the broker may not be: send a task per claim,
            # as without Redis, rather than leave the claim to the sweep.
            log.warning("claims doorbell unreachable (%s); sending a drain anyway", error)
            return True

    def reachable(self) -> bool:
        """True when the broker accepts a connection within two seconds (for /readyz)."""
        try:
            with self.celery.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
            return True
        except Exception:
            log.warning("readiness: broker unreachable", exc_info=True)
            return False

    def depth(self) -> int | None:
        """Messages waiting in the claims queue, when the broker is Redis (for /metrics)."""
        broker_url = self.celery.conf.broker_url or ""
        if not broker_url.startswith(("redis://", "rediss://")):
            return None
        with self.celery.connection_for_read() as connection:
            return int(connection.default_channel.client.llen(QUEUE))

    def answered(self) -> None:
        """A drain is starting: later claims must ring again."""
        self._clear()

    def _clear(self) -> None:
        if self.redis is None:
            return
        try:
            self.redis.delete(self.doorbell)
        except Exception:
            log.warning("could not clear the claims doorbell", exc_info=True)
