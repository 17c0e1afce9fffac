"""Waking workers for pending claims, without one broker message per claim.

Each accepted claim rings a doorbell: a Redis key set with NX. Only the request
that sets it sends a drain task; the task clears it when it starts and then
drains everything pending. A claim recorded while the key is set is therefore
seen by a drain that has not started yet. Without Redis every claim sends a
task (a drain that finds nothing pending costs one query). The key expires, so
a lost message only delays claims until the next request or sweep.

A lingering drain (COFFER_CLAIM_LINGER_MS above 0, with COFFER_REDIS_URL): the task
sets the doorbell to "lingering" as it starts, instead of clearing it (so the next
claims send no task), and a drain whose last batch came out short does not end its
task at once: it refreshes "lingering" (or sets it if the doorbell is absent) and waits on a
wake list (`BLPOP`) for up to the linger; a claim whose request finds the doorbell
"lingering" pushes one token there instead of sending a task (never a second one:
the list holds at most one). Popped: the drain runs batches again and lingers
again. Timed out: one script deletes the doorbell if it still says "lingering",
reads how many tokens are left and deletes them; any left, it runs batches again.

Why no claim is left behind. A request commits its claim *before* it runs its wake
script, and every doorbell operation is one atomic script, so each claim's wake
script runs either

- while the doorbell is absent: it sets it and the request sends a task, which
  starts after the commit and sees the claim (the old argument);
- while it holds "1": a task sent by an earlier request has not started yet (a
  task replaces it as it starts, with nothing or "lingering"; a drain that ends
  a batch never replaces a "1"); that task sees the claim;
- while it holds "lingering": the list then holds a token (this request's or an
  earlier one's) at a moment after the claim was committed. A token leaves the
  list only by a `BLPOP` or by the exit script, and either way the drain that
  takes it then runs at least one more batch (or, out of time, sends a fresh
  task), which starts after the commit and so sees the claim. Whichever drain
  takes it: two drains may both think they linger when the key expired under
  one of them, which changes nothing in this argument.

So either a wake script ran before the exit script (its token is counted) or after
it (the doorbell is absent or "1": the first two cases). Kept short on purpose, the
"lingering" key expires `max(2 x linger, 200 ms)` after it was last set: a worker
killed while it lingers leaves claims that arrive meanwhile to the first claim after
the expiry (which sends a task) or the sweep, the same bound as a lost message.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from workers.celery_app import CAMPAIGN_TASK, DRAIN_TASK, QUEUE

log = logging.getLogger("coffer.queue")
DOORBELL_TTL_MS = 2000
LINGERING = "lingering"
LINGERING_TTL_FLOOR_MS = 200

# KEYS: doorbell, wake list. ARGV: the doorbell's TTL. 1: ring (send a task), 0: don't.
_WAKE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
if redis.call('GET', KEYS[1]) == 'lingering' and redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('RPUSH', KEYS[2], '1')
end
return 0
"""
# KEYS: doorbell. ARGV: TTL, '1' when this drain already lingers (it may refresh its own
# "lingering"; a first linger must find the doorbell absent). 1: linger, 0: a task is
# on its way (or another drain lingers), end as without lingering.
_LINGER = """
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], 'lingering', 'PX', ARGV[1])
  return 1
end
if current == 'lingering' and ARGV[2] == '1' then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return 1
end
return 0
"""
# KEYS: doorbell, wake list. The tokens left (each one is a claim to look for).
_STOP_LINGERING = """
if redis.call('GET', KEYS[1]) == 'lingering' then redis.call('DEL', KEYS[1]) end
local left = redis.call('LLEN', KEYS[2])
redis.call('DEL', KEYS[2])
return left
"""


class ClaimQueue:
    def __init__(
        self,
        celery: Celery,
        redis: Any | None,
        *,
        namespace: str = "coffer",
        linger_ms: int = 0,
    ) -> None:
        self.celery = celery
        self.redis = redis
        self.doorbell = f"{namespace}:claims-doorbell"
        self.wake_list = f"{namespace}:claims-wake"
        self.linger_ms = linger_ms if redis is not None else 0
        self.lingering_ttl_ms = max(2 * linger_ms, LINGERING_TTL_FLOOR_MS)
        if redis is not None:
            # Ringing always goes through the wake script, whatever this process's own
            # linger: an API process set to 0 still wakes a worker that lingers.
            self._wake = redis.register_script(_WAKE)
            self._linger = redis.register_script(_LINGER)
            self._stop_lingering = redis.register_script(_STOP_LINGERING)

    @property
    def lingers(self) -> bool:
        """True when drains linger after their last batch (a linger and Redis are set)."""
        return self.linger_ms > 0

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
            # One round trip: ring, or wake the drain that lingers.
            keys = [self.doorbell, self.wake_list]
            return bool(self._wake(keys=keys, args=[DOORBELL_TTL_MS]))
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
        """A drain is starting: later claims must ring again, or, when drains linger, wake
        this one: the doorbell says "lingering" from the start, so a claim recorded during
        the first batches leaves a token and is taken by the next batch, not a new task."""
        if not self.lingers or self.redis is None:
            self._clear()
            return
        try:
            self.redis.set(self.doorbell, LINGERING, px=self.lingering_ttl_ms)
        except Exception:
            log.warning("could not mark the claims doorbell lingering", exc_info=True)

    def _clear(self) -> None:
        if self.redis is None:
            return
        try:
            self.redis.delete(self.doorbell)
        except Exception:
            log.warning("could not clear the claims doorbell", exc_info=True)

    # The drain's side of lingering (core/claims/linger.py runs the loop). A Redis error
    # ends the linger, logged, never raised: the key's TTL and the sweep take over.

    def linger(self, *, again: bool) -> bool:
        """Mark the doorbell "lingering" if it is absent (or, `again`, still ours);
        False: a task is on its way, another drain lingers, or Redis failed."""
        try:
            ttl = self.lingering_ttl_ms
            return bool(self._linger(keys=[self.doorbell], args=[ttl, "1" if again else "0"]))
        except Exception:
            log.warning("could not linger for claims; ending the drain", exc_info=True)
            return False

    def wait_for_claim(self, timeout_s: float) -> bool | None:
        """Block up to `timeout_s` for a claim's wake token: True popped, False timed out,
        None Redis failed (stop lingering)."""
        try:
            assert self.redis is not None  # lingering needs Redis
            return self.redis.blpop([self.wake_list], timeout=timeout_s) is not None
        except Exception:
            log.warning("lost the claims wake list while lingering", exc_info=True)
            return None

    def stop_lingering(self) -> int:
        """End the linger; the number of wake tokens that were left (0 on a Redis error)."""
        try:
            return int(self._stop_lingering(keys=[self.doorbell, self.wake_list]))
        except Exception:
            log.warning("could not end the claims linger", exc_info=True)
            return 0
