"""Honouring the revocation of the API key that issued a participant token.

A token is verified from its signature alone, but a token whose issuing key has
been revoked must stop working. Asking the database on every token request is
what tokens exist to avoid, so each process keeps a small cache of key ids:

- a key seen live is trusted for LIVE_TTL_S seconds, then read again (one
  indexed primary-key read per key per process per LIVE_TTL_S, whatever the
  traffic);
- a key seen revoked (or gone) stays revoked: revocation is never undone;
- with COFFER_REDIS_URL set, a revocation (core.tenants.revoke_key) also writes a
  revocation mark to Redis, checked on every token request (one Redis EXISTS, no
  database), so the tokens stop on their next request in every process. If Redis
  cannot be reached the cache bound still holds.

So a revoked key's tokens stop working on their next request with Redis, and
within LIVE_TTL_S seconds without it (docs/clients.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from core.db import Database
from core.key_cache import GENERATION_KEY, new_generation
from core.models import ApiKey
from core.tokens import TTL_MAX_S, TokenInvalid

log = logging.getLogger("coffer.tokens")
LIVE_TTL_S = 10.0
_MAX_KEYS = 10_000  # keys remembered per process; the oldest entry is dropped beyond
# A mark outlives every token its key could have issued before revocation.
_MARK_TTL_S = TTL_MAX_S + 300
_NAMESPACE = "coffer:revoked-key:"


class KeyRevoked(TokenInvalid):
    title = "The key that issued this participant token was revoked"


class KeyLiveness:
    """Per-process answers to "is the key with this id still live?" (held by the Runtime)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, tuple[bool, float]] = OrderedDict()  # id -> (live, when)

    def require_live(self, key_id: str, *, db: Database, redis: Any | None) -> None:
        """KeyRevoked (401) if the key is revoked, as far as the bound above allows."""
        if redis is not None and _marked_revoked(redis, key_id):
            self._remember(key_id, live=False)
        live = self._cached(key_id)
        if live is None:
            live = _is_live_in_database(db, key_id)
            self._remember(key_id, live=live)
        if not live:
            raise KeyRevoked()

    def _cached(self, key_id: str) -> bool | None:
        with self._lock:
            entry = self._seen.get(key_id)
        if entry is None:
            return None
        live, when = entry
        if live and self._clock() - when >= LIVE_TTL_S:
            return None  # trusted long enough: read again
        return live

    def _remember(self, key_id: str, *, live: bool) -> None:
        with self._lock:
            self._seen[key_id] = (live, self._clock())
            self._seen.move_to_end(key_id)
            while len(self._seen) > _MAX_KEYS:
                self._seen.popitem(last=False)


def announce_revoked(redis: Any | None, key_ids: list[str]) -> bool:
    """Tell every process at once that these keys are revoked (after the revocation has
    committed: core.tenants.revoke_key does it): a mark per key for its participant tokens,
    and a new key generation, which empties every API process's key cache
    (core/key_cache.py). False when there is no Redis or it could not be written: the
    tokens then stop within LIVE_TTL_S, the keys within key_cache.MAX_AGE_S."""
    if redis is None or not key_ids:
        return False
    try:
        pipe = redis.pipeline(transaction=False)
        for key_id in key_ids:
            pipe.set(_NAMESPACE + key_id, b"1", ex=_MARK_TTL_S)
        pipe.set(GENERATION_KEY, new_generation())
        pipe.execute()
    except Exception:
        log.warning("could not announce a key revocation in Redis", exc_info=True)
        return False
    return True


def key_ids_with_prefix(db: Database, prefix: str) -> list[str]:
    """The ids of the keys with this displayable prefix (at most one: it is unique)."""
    with db.transaction() as session:
        return list(session.scalars(select(ApiKey.id).where(ApiKey.prefix == prefix)))


def _marked_revoked(redis: Any, key_id: str) -> bool:
    try:
        return bool(redis.exists(_NAMESPACE + key_id))
    except Exception:  # Redis down: fall back on the cache's bound, never refuse everyone
        log.warning("could not read key revocation marks from Redis", exc_info=True)
        return False


def _is_live_in_database(db: Database, key_id: str) -> bool:
    with db.autocommit() as session:
        revoked_at = session.execute(
            select(ApiKey.revoked_at).where(ApiKey.id == key_id)
        ).one_or_none()
    return revoked_at is not None and revoked_at[0] is None
