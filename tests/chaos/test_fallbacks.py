"""The fallbacks for a missing COFFER_REDIS_URL Redis, unit by unit, on a real Redis that is
really stopped (the chaos tests prove the same through the whole stack, more slowly)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.ratelimit import RateLimiter
from core.errors import RateLimited
from tests.support.private_services import PrivateRedis


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()


def test_rate_limits_count_in_memory_while_redis_is_down(private_redis: PrivateRedis) -> None:
    limiter = RateLimiter("3/minute", private_redis.url)
    for _ in range(3):
        limiter.check("key-a")
    with pytest.raises(RateLimited):
        limiter.check("key-a")  # counted in Redis

    private_redis.stop()
    for _ in range(3):
        limiter.check("key-b")  # no error: counted in this process instead
    with pytest.raises(RateLimited) as refused:
        limiter.check("key-b")
    assert refused.value.retry_after_s >= 1
