"""What each call does, written once for the sync and the async client.

Each operation is a generator (a "flow") that yields steps, `Send` a request
or `Sleep` a while, and receives the response; `Coffer` and `AsyncCoffer` only
drive it, with httpx's sync or async client and `time.sleep` or
`asyncio.sleep`. A network error is thrown into the flow at its `Send`, so the
retry rules below hold the same in both.

Retries: a network error, a 5xx (but `processing_failed`, a claim's final
outcome) and a 429 or 503 whose Retry-After is short are tried again, with
exponential backoff and jitter, up to `Retry.attempts` tries in all. A claim
and a points credit are retried under the same Idempotency-Key, so however
often a request reaches Coffer it takes effect once (CONTRACT §6).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from coffer_client.errors import ClaimStillPending, CofferError, error_for
from coffer_client.models import CLAIM_STATE, ClaimFailed, ClaimPending, ClaimSucceeded, ClaimView

API = "/api/v1/gamify"
T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    method: str
    url: str  # a path under the base URL, or an absolute URL (a Location)
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step = Send | Sleep
Flow = Generator[Step, httpx.Response | None, T]


@dataclass(frozen=True)
class Retry:
    """How often and how patiently a call is tried again.

    `attempts` counts every try (1 = no retry). Delays grow from `backoff_s`,
    doubling, up to `max_backoff_s`, each with jitter (half to all of it). A 429
    or 503 is retried after its Retry-After only when that is at most
    `max_retry_after_s`; a longer one is raised at once (RateLimited,
    ServiceUnavailable, with `retry_after`).
    """

    attempts: int = 5
    backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    max_retry_after_s: float = 10.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = min(self.max_backoff_s, self.backoff_s * 2**attempt)
        delay = random.uniform(ceiling / 2, ceiling)
        return max(delay, retry_after or 0.0)


def segment(value: str) -> str:
    """A path segment, every reserved character percent-encoded (`/` included), so an id
    such as a participant's `acct/7` means the same participant at every endpoint."""
    return quote(value, safe="")


def _retry_after(response: httpx.Response) -> float | None:
    given = response.headers.get("Retry-After", "")
    try:
        seconds = float(given)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def raise_for(response: httpx.Response) -> None:
    """The typed exception of an error answer; nothing for a success."""
    if response.status_code < 400:
        return
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        text = response.text[:200] or response.reason_phrase
        problem = {"code": "http_error", "title": response.reason_phrase, "detail": text}
    raise error_for(problem, response.status_code, _retry_after(response))


def _retryable(error: CofferError, policy: Retry) -> bool:
    if error.code == "processing_failed":
        return False  # a claim's final outcome: replaying its key gives the same answer
    if error.status in (429, 503):
        return error.retry_after is None or error.retry_after <= policy.max_retry_after_s
    return error.status >= 500


def call(send: Send, policy: Retry) -> Flow[httpx.Response]:
    """`send`, tried again on network errors and retryable answers; the final answer if it
    is a success, else its typed exception (or the last network error)."""
    for attempt in range(policy.attempts):
        last = attempt == policy.attempts - 1
        try:
            response = yield send
        except httpx.TransportError:
            if last:
                raise
            yield Sleep(policy.delay(attempt))
            continue
        assert response is not None
        try:
            raise_for(response)
        except CofferError as error:
            if last or not _retryable(error, policy):
                raise
            yield Sleep(policy.delay(attempt, error.retry_after))
            continue
        return response
    raise AssertionError("unreachable: the last attempt returns or raises")


def read(send: Send, policy: Retry) -> Flow[Any]:
    """`call`, then the JSON body."""
    response = yield from call(send, policy)
    return response.json()


def claim(
    send: Send, policy: Retry, *, wait_s: float, poll_s: float = 0.05
) -> Flow[ClaimSucceeded | ClaimView]:
    """POST the claim (retried under its key); on 202 follow `Location` until decided.

    A business refusal raises its exception (e.g. InsufficientPoints), whether the
    POST answered it or the claim was decided later; ClaimStillPending after
    `wait_s` seconds of following.
    """
    response = yield from call(send, policy)
    if response.status_code == 201:
        return ClaimSucceeded.model_validate(response.json())
    pending = ClaimPending.model_validate(response.json())
    location = str(response.url.join(response.headers.get("Location", "")))
    deadline = time.monotonic() + wait_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ClaimStillPending(pending.claim_id, wait_s)
        yield Sleep(min(poll_s, remaining))
        poll_s = min(poll_s * 1.6, 1.0)
        state = CLAIM_STATE.validate_python((yield from read(Send("GET", location), policy)))
        if isinstance(state, ClaimFailed):
            raise error_for(state.error.model_dump(exclude_none=True), state.error.status, None)
        if isinstance(state, ClaimView):
            return state
