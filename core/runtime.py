"""The one wiring path: settings -> database, Redis, queue and outcome notices, per process.

The API, the worker and the CLI all call `get_runtime()`. A forked child (a
Celery prefork process, a gunicorn worker) builds its own, because connection
pools must not cross a fork. Per-process state (caches, the claims set aside
after a fault) lives here too, where tests and reloads can see it, never in
module globals.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from core.claims.accept import KnownRewards
from core.claims.failures import SetAside
from core.claims.service import Waker
from core.db import Database
from core.instance_secret import SecretHolder
from core.key_cache import KeyCache
from core.metrics import ClaimStats, LocalClaimStats, RedisClaimStats
from core.notify import OutcomeWaiter, PolledOutcomes, RedisOutcomes
from core.settings import Settings, load_settings_or_exit
from core.tokens_revocation import KeyLiveness
from core.webhooks.dispatch import DeliveryQueue

_REDIS_TIMEOUT_S = 2.0  # connect and per-command, for COFFER_REDIS_URL


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: Any | None
    waiter: OutcomeWaiter  # how a fresh claim request waits for its outcome
    poller: PolledOutcomes  # how a replay waits (it must not take the fresh waiter's notice)
    publisher: RedisOutcomes | PolledOutcomes
    stats: ClaimStats  # claim outcome counts and latency, for /metrics
    waker: Waker  # how an accepted claim asks for a worker
    webhooks: DeliveryQueue  # relays facts and sends delivery attempts after commit
    known_rewards: KnownRewards = field(default_factory=KnownRewards)
    set_aside: SetAside = field(default_factory=SetAside)
    secrets: SecretHolder = field(default_factory=SecretHolder)  # core/instance_secret.py
    key_liveness: KeyLiveness = field(default_factory=KeyLiveness)  # core/tokens_revocation.py
    key_cache: KeyCache = field(default_factory=KeyCache)  # core/key_cache.py

    def close(self) -> None:
        self.db.dispose()
        if self.redis is not None:
            self.redis.close()
        if isinstance(self.waiter, RedisOutcomes):
            self.waiter.blocking.close()


def build_runtime(settings: Settings) -> Runtime:
    db = Database(settings.database_url)
    poller = PolledOutcomes(db)
    redis = None
    notifier: RedisOutcomes | PolledOutcomes = poller
    stats: ClaimStats = LocalClaimStats()
    if settings.redis_url:
        import redis as redis_lib  # noqa: PLC0415 - only needed when configured

        # Every Redis call is bounded, so a Redis that hangs (frozen, partitioned) costs a
        # request seconds, not a thread forever: quick commands get _REDIS_TIMEOUT_S, the
        # blocking wait for an outcome its own client, bounded by the longest claim wait.
        redis = redis_lib.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=_REDIS_TIMEOUT_S,
            socket_timeout=_REDIS_TIMEOUT_S,
            health_check_interval=30,
        )
        blocking = redis_lib.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=_REDIS_TIMEOUT_S,
            socket_timeout=settings.claim_wait_ms / 1000 + _REDIS_TIMEOUT_S,
            health_check_interval=30,
        )
        notifier = RedisOutcomes(redis, blocking=blocking, fallback=poller)
        stats = RedisClaimStats(redis)
    waker = _queue(settings, redis)
    return Runtime(settings, db, redis, notifier, poller, notifier, stats, waker, _webhooks())


def _queue(settings: Settings, redis: Any | None) -> Waker:
    """The Celery queue the claims go through, configured from these settings."""
    from workers.celery_app import app, configure  # noqa: PLC0415 - Celery only when wired
    from workers.queue import ClaimQueue  # noqa: PLC0415

    configure(app, settings)
    return ClaimQueue(app, redis, linger_ms=settings.claim_linger_ms)


def _webhooks() -> DeliveryQueue:
    from workers.tasks.webhooks import CeleryDeliveryQueue  # noqa: PLC0415 - Celery when wired

    return CeleryDeliveryQueue()


class _Holder:
    """This process's runtime; rebuilt after a fork (the pid no longer matches)."""

    lock = threading.Lock()
    runtime: Runtime | None = None
    pid: int | None = None


def get_runtime() -> Runtime:
    """This process's runtime, built on first use."""
    with _Holder.lock:
        if _Holder.runtime is None or _Holder.pid != os.getpid():
            # Built by an entry point: unusable settings stop it with one line (CONTRACT §1).
            _Holder.runtime, _Holder.pid = build_runtime(load_settings_or_exit()), os.getpid()
        return _Holder.runtime


def set_runtime(runtime: Runtime | None) -> None:
    """Install a runtime built elsewhere (tests, `coffer serve`)."""
    with _Holder.lock:
        _Holder.runtime, _Holder.pid = runtime, os.getpid()
