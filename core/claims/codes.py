"""Generated codes: a prefix and random characters from an unambiguous alphabet."""

from __future__ import annotations

import secrets

# No 0/O, 1/I/L: codes are read aloud and typed from receipts.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def generate_code(prefix: str | None, length: int) -> str:
    return (prefix or "") + "".join(secrets.choice(ALPHABET) for _ in range(length))
