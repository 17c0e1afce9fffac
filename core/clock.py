"""Time in one place: aware UTC datetimes, and the wire format for them."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_wire(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a `Z`, to the second, as the seed's examples show."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
