"""Opaque cursors for the webhook lists: a kind and a row position, base64url-encoded."""

from __future__ import annotations

import base64
import re

from core.errors import ValidationFailed

_POSITION = re.compile(r"^([a-z]+):([0-9]{1,19})$")


def encode(kind: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode().rstrip("=")


def decode(kind: str, cursor: str, *, field: str = "cursor") -> int:
    """The position in `cursor`, or a 400 naming `field` for anything Coffer did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raw = ""
    match = _POSITION.match(raw)
    if match is None or match.group(1) != kind:
        raise ValidationFailed([{"field": field, "message": "not a cursor Coffer issued"}])
    return int(match.group(2))
