"""A per-process cache of authenticated API keys that a revocation empties in every process.

Authenticating a key is a database query (core.tenants.authenticate), and a storefront
sends the same key on every request. With COFFER_REDIS_URL set, each API process keeps
the principal of every key it has authenticated, by the key's SHA-256, stamped with the
*key generation* in Redis:

- every revocation writes a new generation once it has committed
  (core.tenants.revoke_key); a generation is 128 random bits, never a counter, so a
  Redis that lost its data and starts afresh can never show an old value again;
- every request reads the generation in the same Redis round trip as its rate-limit
  count (api/ratelimit.py), and uses a cached principal only if that is the generation
  the entry is stamped with; any other empties the cache and the key is looked up in the
  database again;
- no generation read (Redis unset or unreachable, the rate limit counting in memory):
  the cache is emptied and left unused, and every request asks the database.

So a key revoked with `coffer keys revoke` is refused on its very next request by every
API process (CONTRACT §2). The race that rule has to survive: a request reads
generation g, looks the key up just before the revocation commits, and stores it. An
entry is therefore stamped only with a generation read BEFORE its lookup began. A
lookup that saw the key live ran before the revocation committed, so before the new
generation was written: the stamp is older than it, and every request that starts
after the revocation reads another generation than the stamp. (Stamped with a
generation read after the lookup, the key would sit in the cache as live under the new
generation.) The check is against the entry's own stamp, not the generation the process
saw last, because the threads of a process share the cache: one that fetched an entry
just before another adopted the new generation must not take that for its own read.

A revocation Redis never hears of (an UPDATE by hand, a Redis unreachable from the
revoking command, a failover that lost the write) still takes effect within
MAX_AGE_S: no entry is trusted longer than that after its lookup.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from core.errors import Unauthorized
from core.tenants import Principal, hash_key, is_key_shaped

GENERATION_KEY = "coffer:key-generation"
# As long as a participant token's key is trusted (tokens_revocation.LIVE_TTL_S): one
# database lookup per key and process every 10 s whatever the traffic.
MAX_AGE_S = 10.0
_MAX_KEYS = 10_000  # entries per process; the oldest is dropped beyond


class Counted(Protocol):
    """A request counted against its rate limit (api/ratelimit.py), with the key
    generation read in the same round trip (None: not read, so the cache is not used)."""

    @property
    def key_generation(self) -> bytes | None: ...


C = TypeVar("C", bound=Counted)


def new_generation() -> str:
    """A generation no revocation has written before (128 random bits, hex)."""
    return secrets.token_hex(16)


class KeyCache:
    """Per-process principals of the API keys seen, by key hash (held by the Runtime)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._generation: bytes | None = None  # the latest a request of this process read
        # key hash -> (principal, the generation read before its lookup, when looked up)
        self._entries: dict[str, tuple[Principal, bytes, float]] = {}

    def authenticate(
        self, key: str | None, *, lookup: Callable[[str], Principal], count: Callable[[str], C]
    ) -> tuple[Principal, C]:
        """The principal for a bearer key and its request counted by `count(key_id)`.

        `lookup(key)` asks the database (Unauthorized for a missing, unknown or revoked
        key); it is skipped when the key is cached under the generation `count` reads.
        Unauthorized for a key of the wrong shape, before anything is counted.
        """
        if not is_key_shaped(key):
            raise Unauthorized()
        digest = hash_key(key)
        cached = self._get(digest)
        if cached is not None:
            # A key's id never changes, so this count is the key's whatever the lookup says.
            counted = count(cached[0].key_id)
            self._observe(counted.key_generation)
            # Against the entry's own stamp, not the cache's latest generation: another
            # thread may have adopted the new one since this entry was read.
            if counted.key_generation == cached[1]:
                return cached[0], counted
        stamp, looked_up_at = self._generation, self._clock()  # read before the lookup
        principal = lookup(key)
        if cached is None:
            counted = count(principal.key_id)
            self._observe(counted.key_generation)
        if stamp is not None:
            self._put(digest, (principal, stamp, looked_up_at))
        return principal, counted

    def _get(self, digest: str) -> tuple[Principal, bytes] | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if self._clock() - entry[2] >= MAX_AGE_S:
                del self._entries[digest]
                return None
            return entry[0], entry[1]

    def _observe(self, generation: bytes | None) -> None:
        """Adopt the generation a request read; if it changed, drop every entry (stamped
        with an older one, each would be refused anyway). None: Redis was not read."""
        with self._lock:
            if generation is None or generation != self._generation:
                self._entries.clear()
                self._generation = generation

    def _put(self, digest: str, entry: tuple[Principal, bytes, float]) -> None:
        with self._lock:
            if entry[1] != self._generation:  # already superseded: it could never be used
                return
            self._entries[digest] = entry
            if len(self._entries) > _MAX_KEYS:
                del self._entries[next(iter(self._entries))]
