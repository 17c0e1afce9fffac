"""Per-key rate limits (COFFER_RATE_LIMIT): in Redis when configured, else in memory."""

from __future__ import annotations

import math
import time

import limits
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from core.errors import RateLimited


class RateLimiter:
    def __init__(self, rate: str, redis_url: str | None) -> None:
        self.item = limits.parse(rate)
        storage = storage_from_string(redis_url) if redis_url else MemoryStorage()
        self.strategy = FixedWindowRateLimiter(storage)

    def check(self, key_id: str) -> None:
        """Count one request for the key; RateLimited (with Retry-After) past the limit."""
        if self.strategy.hit(self.item, key_id):
            return
        reset_at = self.strategy.get_window_stats(self.item, key_id).reset_time
        raise RateLimited(retry_after_s=max(1, math.ceil(reset_at - time.time())))
