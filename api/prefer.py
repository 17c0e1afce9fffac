"""The Prefer header (RFC 7240): `respond-async` and `wait=N` for claim requests."""

from __future__ import annotations


def wait_seconds(header: str | None, *, default_ms: int) -> tuple[float, str | None]:
    """How long to wait for a claim's outcome, and the Preference-Applied value, if any."""
    cap = default_ms / 1000
    for preference in (header or "").split(","):
        name, _, value = preference.strip().partition("=")
        name = name.strip().lower()
        if name == "respond-async":
            return 0.0, "respond-async"
        if name == "wait":
            try:
                seconds = float(value.strip().strip('"'))
            except ValueError:
                continue
            if seconds >= 0:
                applied = min(seconds, cap)
                return applied, f"wait={applied:g}"
    return cap, None
