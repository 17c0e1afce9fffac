"""Per-key rate limits (COFFER_RATE_LIMIT): in Redis when configured, else in memory.

When the configured Redis cannot be reached, each process counts on its own in
memory until Redis answers again (tried again every few seconds): a storefront keeps
claiming while Redis is down, at worst with the limit applied per API process
instead of across them (docs/resilience.md). Rate limits are a guard, not a ledger.

In Redis a request is counted by one Lua script, which also reads the API-key
generation (core/key_cache.py): the key cache learns whether it may be trusted in the
round trip the request makes anyway. The script counts a fixed window exactly as the
`limits` library does, under the same Redis key, so processes of either kind share a
window during an upgrade; `limits` still parses the rate and counts in memory. (Its own
Redis path has no room for a second key, and a second round trip per request cost
about as much CPU as the count itself: docs/performance.md.)
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import limits
import redis
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from core.errors import RateLimited
from core.key_cache import GENERATION_KEY, new_generation

log = logging.getLogger("coffer.api")
_REDIS_RETRY_S = 5.0  # how long to count in memory before asking Redis again
_REDIS_TIMEOUT_S = 1.0  # a rate-limit check must not hold a request longer than this
_LIMITS_PREFIX = "LIMITS:"  # limits.storage.RedisStorage's key prefix

# KEYS: the window's counter, the key generation. ARGV: the window in seconds, the limit,
# a fresh generation to set if there is none yet (first start, or a Redis that lost it).
_COUNT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = 0
if count > tonumber(ARGV[2]) then ttl = redis.call('TTL', KEYS[1]) end
local generation = redis.call('GET', KEYS[2])
if not generation then
  generation = ARGV[3]
  redis.call('SET', KEYS[2], generation)
end
return {count, ttl, generation}
"""


@dataclass(frozen=True)
class Counted:
    """One request counted: seconds to wait when it was past the limit (else None), and
    the key generation read with it (None when counted in memory)."""

    retry_after_s: int | None
    key_generation: bytes | None = None

    def enforce(self) -> None:
        """RateLimited (429, with Retry-After) if the request was past the limit."""
        if self.retry_after_s is not None:
            raise RateLimited(retry_after_s=self.retry_after_s)


class RateLimiter:
    def __init__(self, rate: str, redis_url: str | None) -> None:
        self.item = limits.parse(rate)
        self.local = FixedWindowRateLimiter(MemoryStorage())
        self._count_script = None
        if redis_url:
            client = redis.Redis.from_url(
                redis_url,
                socket_connect_timeout=_REDIS_TIMEOUT_S,
                socket_timeout=_REDIS_TIMEOUT_S,
            )
            self._count_script = client.register_script(_COUNT)
        self._shared_down_until = 0.0

    def check(self, bucket: str) -> None:
        """Count one request for the bucket; RateLimited (with Retry-After) past the limit."""
        self.count(bucket).enforce()

    def count(self, bucket: str) -> Counted:
        """Count one request for the bucket, in Redis when it answers, else in memory."""
        if self._count_script is not None and time.monotonic() >= self._shared_down_until:
            try:
                return self._count_in_redis(bucket)
            except redis.RedisError as error:
                log.warning("rate limits: Redis unreachable (%s); counting in memory", error)
                self._shared_down_until = time.monotonic() + _REDIS_RETRY_S
        return self._count_in_memory(bucket)

    def _count_in_redis(self, bucket: str) -> Counted:
        assert self._count_script is not None
        counter = _LIMITS_PREFIX + self.item.key_for(bucket)
        args = [self.item.get_expiry(), self.item.amount, new_generation()]
        count, ttl, generation = self._count_script(keys=[counter, GENERATION_KEY], args=args)
        retry_after_s = None if count <= self.item.amount else max(1, ttl)
        return Counted(retry_after_s, generation)

    def _count_in_memory(self, bucket: str) -> Counted:
        if self.local.hit(self.item, bucket):
            return Counted(None)
        reset_at = self.local.get_window_stats(self.item, bucket).reset_time
        return Counted(max(1, math.ceil(reset_at - time.time())))
