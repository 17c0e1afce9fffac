"""One HTTP attempt of a delivery: to the checked address, no redirects, within the timeout.

The request goes to the IP literal that `ssrf.resolve` approved, with the
original host in the Host header and (for https) as the TLS SNI name, which
httpx also verifies the certificate against. Nothing is resolved again
between the check and the connection. Only a 2xx within the timeout counts;
a 3xx is a failure and is not followed. At most RESPONSE_BODY_CAP bytes of
the answer are read and kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from core.clock import utcnow
from core.webhooks.ssrf import Target, UnsafeUrl, resolve

RESPONSE_BODY_CAP = 1024
ERROR_CAP = 500  # characters: the width of webhook_attempts.error
USER_AGENT = "Coffer-Webhooks/1"


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int
    response_body: str | None = None
    retry_after_s: float | None = None  # from a 429/503 answer

    def __post_init__(self) -> None:
        # Every error is kept whole up to the column's width: a refusal quotes the URL's
        # host, which may be longer than the column (a 2,048-character URL).
        if self.error is not None and len(self.error) > ERROR_CAP:
            object.__setattr__(self, "error", self.error[: ERROR_CAP - 3] + "...")

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def post(
    url: str, *, body: bytes, headers: dict[str, str], timeout_s: float, allow_private: bool
) -> AttemptResult:
    """POST `body` to `url` once; never raises for anything the network or the receiver does."""
    started = time.monotonic()
    try:
        target = resolve(url, allow_private=allow_private)
    except UnsafeUrl as refusal:
        return AttemptResult(None, f"refused: url {refusal}", _ms(started))
    last_error: httpx.ConnectError | None = None
    for address in target.addresses:  # every one was checked; the next if one refuses
        try:
            return _exchange(
                target, address, body=body, headers=headers, timeout_s=timeout_s, started=started
            )
        except httpx.ConnectError as error:
            last_error = error
        except httpx.TimeoutException:
            return AttemptResult(None, f"timed out after {timeout_s:g} s", _ms(started))
        except httpx.HTTPError as error:
            return AttemptResult(None, f"{type(error).__name__}: {error}", _ms(started))
    return AttemptResult(None, f"ConnectError: {last_error}", _ms(started))


def _exchange(
    target: Target,
    address: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout_s: float,
    started: float,
) -> AttemptResult:
    """One POST to `address`, carrying the URL's host in the Host header and as the TLS SNI."""
    sent_headers = {
        **headers,
        "Host": target.url.netloc.decode("ascii"),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    extensions = {"sni_hostname": target.url.host} if target.url.scheme == "https" else {}
    with (
        httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client,
        client.stream(
            "POST",
            target.url.copy_with(host=address),
            content=body,
            headers=sent_headers,
            extensions=extensions,
        ) as response,
    ):
        excerpt = _read_capped(response, deadline=started + timeout_s)
    return _judge(response, excerpt, started, timeout_s)


def _judge(
    response: httpx.Response, excerpt: str, started: float, timeout_s: float
) -> AttemptResult:
    elapsed = _ms(started)
    status = response.status_code
    error = None
    if elapsed > timeout_s * 1000:
        error = f"answered after the {timeout_s:g} s timeout"
    elif 300 <= status < 400:
        error = f"redirect to {response.headers.get('location', '?')[:200]} (not followed)"
    elif not 200 <= status < 300:
        error = f"HTTP {status}"
    retry_after = _retry_after(response) if status in (429, 503) else None
    return AttemptResult(status, error, elapsed, excerpt, retry_after)


def _read_capped(response: httpx.Response, *, deadline: float) -> str:
    """Up to RESPONSE_BODY_CAP bytes, and no reading past the attempt's deadline."""
    kept = b""
    for chunk in response.iter_raw():
        kept += chunk
        if len(kept) >= RESPONSE_BODY_CAP or time.monotonic() > deadline:
            break
    return kept[:RESPONSE_BODY_CAP].decode("utf-8", errors="replace")


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    raw = response.headers.get("retry-after", "").strip()
    if raw.isascii() and raw.isdigit():
        return float(raw)
    try:
        return max((parsedate_to_datetime(raw) - utcnow()).total_seconds(), 0.0)
    except (TypeError, ValueError, IndexError):
        return None


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
