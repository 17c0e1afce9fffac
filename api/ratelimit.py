"""Per-key rate limits (COFFER_RATE_LIMIT): in Redis when configured, else in memory.

When the configured Redis cannot be reached, each process counts on its own in
memory until Redis answers again (tried again every few seconds): a storefront keeps
claiming while Redis is down, at worst with the limit applied per API process
instead of across them (docs/resilience.md). Rate limits are a guard, not a ledger.
"""

from __future__ import annotations

import logging
import math
import time

import limits
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from core.errors import RateLimited

log = logging.getLogger("coffer.api")
_REDIS_RETRY_S = 5.0  # how long to count in memory before asking Redis again
_REDIS_TIMEOUT_S = 1.0  # a rate-limit check must not hold a request longer than this


class RateLimiter:
    def __init__(self, rate: str, redis_url: str | None) -> None:
        self.item = limits.parse(rate)
        self.local = FixedWindowRateLimiter(MemoryStorage())
        self.shared: FixedWindowRateLimiter | None = None
        if redis_url:
            storage = storage_from_string(
                redis_url,
                socket_connect_timeout=_REDIS_TIMEOUT_S,
                socket_timeout=_REDIS_TIMEOUT_S,
            )
            self.shared = FixedWindowRateLimiter(storage)
        self._shared_down_until = 0.0

    def check(self, key_id: str) -> None:
        """Count one request for the key; RateLimited (with Retry-After) past the limit."""
        strategy = self._strategy()
        try:
            allowed = strategy.hit(self.item, key_id)
            reset_at = 0.0 if allowed else strategy.get_window_stats(self.item, key_id).reset_time
        except Exception as error:
            if strategy is self.local:
                raise
            log.warning("rate limits: Redis unreachable (%s); counting in memory", error)
            self._shared_down_until = time.monotonic() + _REDIS_RETRY_S
            self.check(key_id)
            return
        if not allowed:
            raise RateLimited(retry_after_s=max(1, math.ceil(reset_at - time.time())))

    def _strategy(self) -> FixedWindowRateLimiter:
        if self.shared is None or time.monotonic() < self._shared_down_until:
            return self.local
        return self.shared
