"""The Prefer header (RFC 7240): `respond-async` and `wait=N` for claim requests.

Parsed as RFC 7240 §2 writes it, whatever the order, case or whitespace: a
comma-separated list (several Prefer headers are one list) of `token [= word]`
followed by `; parameters`, which Coffer ignores, as it ignores preferences it
does not know and values it cannot use. A preference given twice counts once,
the first time (§2). What the two preferences do (CONTRACT §6):

- none: wait up to COFFER_CLAIM_WAIT_MS for the outcome, then 202;
- `respond-async`: 202 at once, without waiting for or even reading the outcome;
- `wait=N`: wait up to N seconds (capped by the setting), then 202;
- both, in either order: the same as `wait=N` (RFC 7240 §4.3's own example).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from werkzeug.http import parse_list_header

_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # RFC 9110 §5.6.2
_QUOTED = r'"(?:[^"\\]|\\.)*"'  # RFC 9110 §5.6.4
# preference = token [ BWS "=" BWS word ] *( OWS ";" [ OWS parameter ] )
_PREFERENCE = re.compile(rf"\s*({_TCHARS})\s*(?:=\s*({_TCHARS}|{_QUOTED})?)?\s*(?:;.*)?", re.DOTALL)
_MAX_WAIT_DIGITS = 9  # more is "longer than any cap"; int() of thousands of digits is slow


def preferences(header: str | None) -> dict[str, str]:
    """Each preference's lower-cased name and its unquoted value ("" when it has none)."""
    found: dict[str, str] = {}
    for element in parse_list_header(header or ""):
        match = _PREFERENCE.fullmatch(element)
        if match is None:
            continue  # not a preference RFC 7240 can parse: ignored, like an unknown one
        name, value = match.group(1).lower(), match.group(2) or ""
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        found.setdefault(name, value)  # the first instance counts (RFC 7240 §2)
    return found


@dataclass(frozen=True)
class ClaimPreference:
    """How long a claim request waits, and what its Preference-Applied header says."""

    wait_s: float
    respond_async: bool = False
    wait_applied: str | None = None  # "wait=N", N the seconds actually waited at most

    def applied(self, *, pending: bool) -> str | None:
        """Preference-Applied: respond-async only when the answer is the pending 202."""
        honoured = []
        if self.respond_async and pending:
            honoured.append("respond-async")
        if self.wait_applied:
            honoured.append(self.wait_applied)
        return ", ".join(honoured) or None


def claim_preference(header: str | None, *, default_ms: int) -> ClaimPreference:
    """What a claim request's Prefer header asks, capped by COFFER_CLAIM_WAIT_MS."""
    cap = default_ms / 1000
    asked = preferences(header)
    respond_async = asked.get("respond-async") == ""  # the preference takes no value
    wait = _delta_seconds(asked.get("wait"), cap)
    if wait is not None:
        return ClaimPreference(wait, respond_async, f"wait={wait:g}")
    if respond_async:
        return ClaimPreference(0.0, respond_async=True)  # 202 at once means at once
    return ClaimPreference(cap)


def wait_seconds(header: str | None, *, default_ms: int) -> tuple[float, str | None]:
    """How long to wait, and the Preference-Applied value of a pending (202) answer."""
    preference = claim_preference(header, default_ms=default_ms)
    return preference.wait_s, preference.applied(pending=True)


def _delta_seconds(value: str | None, cap: float) -> float | None:
    """RFC 7240 §4.3: `wait = delta-seconds`, 1*DIGIT; anything else is ignored."""
    if not value or not (value.isascii() and value.isdigit()):
        return None
    if len(value) > _MAX_WAIT_DIGITS:
        return cap
    return min(float(int(value)), cap)
