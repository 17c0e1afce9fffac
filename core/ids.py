"""Public identifiers: a type prefix plus a ULID, so ids sort by creation time.

Within one process ids are strictly increasing even inside one millisecond
(the random part is incremented), so "creation order" is the order of ids.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_RANDOM_BITS = 80


class _Monotonic:
    lock = threading.Lock()
    last = 0


def _ulid() -> int:
    millis = int(time.time() * 1000)
    with _Monotonic.lock:
        value = (millis << _RANDOM_BITS) | int.from_bytes(os.urandom(10), "big")
        if value <= _Monotonic.last:
            value = _Monotonic.last + 1
        _Monotonic.last = value
    return value


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A new id such as `rwd_01jd3...`; prefixes: ten, key, rwd, clm, pte, evt."""
    return f"{prefix}_{_encode(_ulid())}"
