"""The API-key cache (core/key_cache.py) on real PostgreSQL and Redis: what it spares the
database, and that no revocation, however it interleaves with a request, leaves a revoked
key cached as live (CONTRACT §2: refused on its next request)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import redis as redis_lib

from api.ratelimit import Counted, RateLimiter
from core.errors import Unauthorized
from core.key_cache import GENERATION_KEY, MAX_AGE_S, KeyCache
from core.runtime import Runtime
from core.tenants import Principal, Revocation, authenticate, revoke_key
from tests.support.private_services import PrivateRedis
from tests.support.tenants import make_tenant

RATE = "100000/second"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ApiProcess:
    """Requests authenticated as api/auth.py does, in one process (one cache), with the
    database lookups counted and room to act between the steps of a request."""

    def __init__(self, runtime: Runtime, limiter: RateLimiter, clock: Clock | None = None) -> None:
        self.runtime, self.limiter = runtime, limiter
        self.cache = KeyCache(clock=clock) if clock else KeyCache()
        self.lookups = 0
        self.after_lookup: Callable[[], None] | None = None  # run once, then forgotten
        self.before_count: Callable[[], None] | None = None
        self.after_count: Callable[[], None] | None = None

    def send(self, key: str) -> Principal:
        principal, counted = self.cache.authenticate(key, lookup=self._lookup, count=self._count)
        counted.enforce()
        return principal

    def _lookup(self, key: str) -> Principal:
        self.lookups += 1
        with self.runtime.db.autocommit() as session:
            principal = authenticate(session, key=key)
        self.after_lookup, then = None, self.after_lookup
        if then:
            then()
        return principal

    def _count(self, bucket: str) -> Counted:
        self.before_count, first = None, self.before_count
        if first:
            first()
        counted = self.limiter.count(bucket)
        self.after_count, then = None, self.after_count
        if then:
            then()
        return counted


def revoke(runtime: Runtime, key: str, *, redis: object | None) -> Revocation:
    with runtime.db.transaction() as session:
        return revoke_key(session, prefix=key[:16], redis=redis)


@pytest.fixture
def process(runtime: Runtime) -> ApiProcess:
    return ApiProcess(runtime, RateLimiter(RATE, runtime.settings.redis_url))


def new_key(runtime: Runtime) -> str:
    return make_tenant(runtime.db).key("live", "server")


def test_a_key_is_looked_up_twice_then_served_from_the_cache(
    process: ApiProcess, runtime: Runtime
) -> None:
    key = new_key(runtime)

    principals = {process.send(key) for _ in range(6)}

    assert len(principals) == 1
    assert process.lookups == 2  # the first request learns the generation, the second fills


def test_any_revocation_empties_the_cache_and_a_revoked_key_is_refused_next(
    process: ApiProcess, runtime: Runtime
) -> None:
    key, other = new_key(runtime), new_key(runtime)
    for _ in range(3):
        process.send(key)
    looked_up = process.lookups

    assert revoke(runtime, other, redis=runtime.redis).announced
    process.send(key)  # still live, looked up again
    assert process.lookups == looked_up + 1

    assert revoke(runtime, key, redis=runtime.redis).announced
    with pytest.raises(Unauthorized):
        process.send(key)


@pytest.mark.parametrize("entry", ["new", "stale"])
@pytest.mark.parametrize("revoked_after", ["lookup", "count"])
def test_a_key_revoked_while_its_request_is_in_flight_is_refused_next(
    process: ApiProcess, runtime: Runtime, entry: str, revoked_after: str
) -> None:
    """The revocation commits and is announced between the steps of a request: after its
    database lookup, or after its Redis round trip. A `new` entry is being looked up for
    the first time under a known generation; a `stale` one is cached, and another key's
    revocation makes the request look it up again."""
    key = new_key(runtime)
    process.send(new_key(runtime))  # the process knows the generation
    if entry == "stale":
        for _ in range(2):
            process.send(key)
        revoke(runtime, new_key(runtime), redis=runtime.redis)
    looked_up = process.lookups

    def revoke_now() -> None:
        assert revoke(runtime, key, redis=runtime.redis).announced

    setattr(process, f"after_{revoked_after}", revoke_now)
    if entry == "stale" and revoked_after == "count":
        with pytest.raises(Unauthorized):  # its count comes first, then the lookup sees it
            process.send(key)
    else:
        process.send(key)  # begun before the revocation: served
    assert process.lookups == looked_up + 1

    with pytest.raises(Unauthorized):
        process.send(key)


def test_an_entry_read_just_before_another_thread_emptied_the_cache_is_not_used(
    process: ApiProcess, runtime: Runtime
) -> None:
    """Two requests in one process after a revocation: the first has the cached entry in
    hand when the second reads the new generation, empties the cache and adopts it; the
    first then reads that same generation, which is still not its entry's."""
    key = new_key(runtime)
    for _ in range(3):
        process.send(key)
    assert revoke(runtime, key, redis=runtime.redis).announced

    def another_request_first() -> None:
        with pytest.raises(Unauthorized):
            process.send(key)

    process.before_count = another_request_first
    with pytest.raises(Unauthorized):
        process.send(key)


def test_requests_while_the_revocation_is_uncommitted_cannot_keep_the_key_cached(
    process: ApiProcess, runtime: Runtime
) -> None:
    """Told before its commit, a process could look the key up, find it live and cache it
    under the new generation; revoke_key tells after the commit."""
    key = new_key(runtime)
    for _ in range(3):
        process.send(key)

    with runtime.db.transaction() as session:
        revocation = revoke_key(session, prefix=key[:16], redis=runtime.redis)
        process.send(key)  # not revoked yet: served
        process.send(key)
    assert revocation.announced

    with pytest.raises(Unauthorized):
        process.send(key)


def test_without_redis_nothing_is_cached(runtime: Runtime) -> None:
    process = ApiProcess(runtime, RateLimiter(RATE, None))  # counts in memory: no generation
    key = new_key(runtime)
    for _ in range(4):
        process.send(key)
    assert process.lookups == 4

    revoke(runtime, key, redis=None)
    with pytest.raises(Unauthorized):
        process.send(key)


def test_while_redis_is_down_every_request_asks_the_database(
    runtime: Runtime, tmp_path: Path
) -> None:
    server = PrivateRedis(tmp_path)
    try:
        process = ApiProcess(runtime, RateLimiter(RATE, server.url))
        key, other = new_key(runtime), new_key(runtime)
        for _ in range(3):
            process.send(key)
        assert process.lookups == 2  # cached

        server.stop()
        with redis_lib.Redis.from_url(server.url, socket_connect_timeout=1) as down:
            assert not revoke(runtime, key, redis=down).announced
        with pytest.raises(Unauthorized):
            process.send(key)
        looked_up = process.lookups
        for _ in range(3):
            process.send(other)
        assert process.lookups == looked_up + 3
    finally:
        server.stop()


def test_a_revocation_redis_never_heard_of_holds_within_the_age_bound(runtime: Runtime) -> None:
    """An UPDATE by hand, or `coffer keys revoke` unable to reach Redis."""
    clock = Clock()
    process = ApiProcess(runtime, RateLimiter(RATE, runtime.settings.redis_url), clock)
    key = new_key(runtime)
    for _ in range(2):
        process.send(key)

    revoke(runtime, key, redis=None)
    clock.now += MAX_AGE_S - 0.5
    process.send(key)  # the documented bound: still trusted
    clock.now += 0.5

    with pytest.raises(Unauthorized):
        process.send(key)


def test_a_redis_that_lost_the_generation_empties_every_cache(
    process: ApiProcess, runtime: Runtime
) -> None:
    """A Redis restarted without its data, while a key was revoked and the process idle: the
    generation is made afresh, never one seen before, so the cached entries go."""
    assert runtime.redis is not None
    key = new_key(runtime)
    for _ in range(2):
        process.send(key)

    revoke(runtime, key, redis=None)
    runtime.redis.delete(GENERATION_KEY)

    with pytest.raises(Unauthorized):
        process.send(key)
    assert runtime.redis.get(GENERATION_KEY) is not None
