"""The fallbacks for a missing COFFER_REDIS_URL Redis, unit by unit, on a real Redis that is
really stopped (the chaos tests prove the same through the whole stack, more slowly)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api import create_app
from api.ratelimit import RateLimiter
from core.errors import RateLimited
from core.runtime import build_runtime
from core.settings import Settings
from tests.support.private_services import PrivateRedis
from tests.support.tenants import make_tenant


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


def test_a_frozen_redis_costs_a_claim_seconds_not_a_hung_thread(
    private_redis: PrivateRedis, settings: Settings
) -> None:
    """A Redis that stops answering without closing its port (SIGSTOP: a hung server or a
    network partition) must not hold a request forever: every call to it is bounded, and
    the claim is still recorded and answered."""
    changed = {**settings.model_dump(), "redis_url": private_redis.url, "claim_wait_ms": 1000}
    runtime = build_runtime(Settings(**changed, _env_file=None))  # type: ignore[call-arg]
    client = create_app(runtime).test_client()
    tenant = make_tenant(runtime.db)
    created = client.post("/api/v1/gamify/rewards", headers=tenant.auth(),
                          json={"name": "Frozen", "type": "coupon"})  # fmt: skip
    assert created.status_code == 201, created.get_data(as_text=True)
    assert private_redis.process is not None
    private_redis.process.send_signal(signal.SIGSTOP)
    thaw = threading.Timer(30, private_redis.process.send_signal, args=(signal.SIGCONT,))
    thaw.start()  # if Coffer does hang, the test still ends (and fails on the time)
    try:
        started = time.monotonic()
        response = client.post(
            f"/api/v1/gamify/rewards/{created.get_json()['id']}/claim",
            headers={**tenant.auth(), "Idempotency-Key": "frozen-1"},
            json={"participant_id": "p-frozen"},
        )
        took = time.monotonic() - started
    finally:
        thaw.cancel()
        private_redis.process.send_signal(signal.SIGCONT)
        runtime.close()

    assert response.status_code == 202, response.get_data(as_text=True)  # no worker here
    assert took < 15, f"the claim waited {took:.1f}s on a frozen Redis"
