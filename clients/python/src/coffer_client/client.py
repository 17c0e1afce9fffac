"""`Coffer` (sync) and `AsyncCoffer` (asyncio): the same methods over httpx.

Both drive the flows of coffer_client/_operations.py, so they behave alike:
typed results, typed exceptions, retries with the same Idempotency-Key, a
`202` followed through `Location` to the claim's final state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Self, TypeVar, cast

import httpx

from coffer_client import _operations as ops
from coffer_client._flows import Flow, Retry, Send, Sleep
from coffer_client._version import __version__
from coffer_client.models import (
    ClaimFailed,
    ClaimPending,
    ClaimSucceeded,
    ClaimView,
    ParticipantRewards,
    ParticipantToken,
    PointsCredited,
    PointsSummary,
    RewardEntry,
    RewardPage,
    RewardType,
)

T = TypeVar("T")
# Coffer holds a claim request up to COFFER_CLAIM_WAIT_MS (at most 60 s) before its 202.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, read=65.0)
DEFAULT_CLAIM_WAIT_S = 30.0


def _headers(api_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api_key}",
        "Accept": "application/json",
        "User-Agent": f"coffer-client-python/{__version__}",
    }


def _request(http: httpx.Client | httpx.AsyncClient, send: Send) -> httpx.Request:
    return http.build_request(
        send.method, send.url, params=send.params or None, json=send.json, headers=send.headers
    )


class _Settings:
    """What both clients keep: the retry policy and the claim's follow-up wait."""

    def __init__(self, retry: Retry | None, claim_wait_s: float) -> None:
        self.retry = retry or Retry()
        self.claim_wait_s = claim_wait_s


class Coffer:
    """Coffer's server-key API for a storefront backend (CONTRACT §10).

    `Coffer("https://coffer.example.com", "ck_live_...")`; use it as a context
    manager, or `close()` it. Every method raises a `CofferError` subclass for
    an error answer (e.g. `InsufficientPoints`), and the last network error
    (an `httpx.TransportError`) once the retries are spent.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        retry: Retry | None = None,
        claim_wait_s: float = DEFAULT_CLAIM_WAIT_S,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._settings = _Settings(retry, claim_wait_s)
        self._http = httpx.Client(
            base_url=base_url, headers=_headers(api_key), timeout=timeout, transport=transport
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _run(self, flow: Flow[T]) -> T:
        """Drive a flow: send its requests, sleep its delays, throw network errors into it."""
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    time.sleep(step.seconds)
                    step = flow.send(None)
                    continue
                try:
                    response = self._http.send(_request(self._http, step))
                except httpx.TransportError as error:
                    step = flow.throw(error)  # the flow retries, or re-raises the last one
                else:
                    step = flow.send(response)
        except StopIteration as done:
            return cast(T, done.value)

    # The catalog (CONTRACT §4).

    def list_rewards(
        self,
        *,
        reward_type: RewardType | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        participant_id: str | None = None,
    ) -> RewardPage:
        """One page of the active catalog; with `participant_id`, each entry's eligibility."""
        return self._run(
            ops.list_rewards(
                self._settings.retry, reward_type=reward_type, limit=limit, cursor=cursor,
                participant_id=participant_id,
            )
        )  # fmt: skip

    def iter_rewards(
        self, *, reward_type: RewardType | None = None, participant_id: str | None = None
    ) -> Iterator[RewardEntry]:
        """Every active catalog entry, page after page."""
        cursor: str | None = None
        while True:
            page = self.list_rewards(
                reward_type=reward_type, limit=200, cursor=cursor, participant_id=participant_id
            )
            yield from page.rewards
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def get_reward(self, reward_id: str) -> RewardEntry:
        """One catalog entry, also scheduled, expired or inactive; RewardNotFound otherwise."""
        return self._run(ops.get_reward(self._settings.retry, reward_id))

    # Claims (CONTRACT §6).

    def claim(
        self,
        reward_id: str,
        participant_id: str,
        *,
        points_deduction: bool = False,
        idempotency_key: str | None = None,
        server_wait_s: int | None = None,
    ) -> ClaimSucceeded | ClaimView:
        """Claim a reward for a participant; the decided claim, with its `code_value`.

        Pass an `idempotency_key` tied to what the claim is for (an order id): a
        repeat with it, even from another process, returns the first outcome and
        never hands out a second code. Without one a fresh key makes this call's
        own retries safe. A 202 is followed to the final state for up to
        `claim_wait_s` (then ClaimStillPending). A refusal raises its exception:
        InsufficientPoints, InventoryExhausted, MaxClaimsExceeded, RewardExpired,
        RewardInactive, RewardNotFound, IdempotencyKeyReused, ProcessingFailed.
        `server_wait_s` sends `Prefer: wait=N` (0: `respond-async`).
        """
        return self._run(
            ops.claim(
                self._settings.retry, reward_id, participant_id, points_deduction=points_deduction,
                idempotency_key=idempotency_key, wait_s=self._settings.claim_wait_s,
                server_wait_s=server_wait_s,
            )
        )  # fmt: skip

    def get_claim(self, claim_id: str) -> ClaimView | ClaimPending | ClaimFailed:
        """A claim as it stands now, told apart by `status`; ClaimNotFound otherwise."""
        return self._run(ops.get_claim(self._settings.retry, claim_id))

    # Participants (CONTRACT §5, §6, §10).

    def participant_rewards(
        self, participant_id: str, *, include_reversed: bool = False
    ) -> ParticipantRewards:
        """The participant's claims, newest first (none for an unknown participant)."""
        return self._run(
            ops.participant_rewards(
                self._settings.retry, participant_id, include_reversed=include_reversed
            )
        )

    def points(self, participant_id: str) -> PointsSummary:
        """The participant's balance and ledger, newest first (0 and none if unknown)."""
        return self._run(ops.points(self._settings.retry, participant_id))

    def credit_points(
        self,
        participant_id: str,
        amount: int,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> PointsCredited:
        """Credit `amount` (> 0) points, once per idempotency key."""
        return self._run(
            ops.credit_points(
                self._settings.retry, participant_id, amount, reason=reason,
                idempotency_key=idempotency_key,
            )
        )  # fmt: skip

    def create_participant_token(
        self, participant_id: str, *, ttl_seconds: int | None = None
    ) -> ParticipantToken:
        """A `cpt_` token for the participant's browser: it may only read this participant's
        rewards and points, for `ttl_seconds` (60..86400, Coffer's default 3600)."""
        return self._run(
            ops.create_participant_token(
                self._settings.retry, participant_id, ttl_seconds=ttl_seconds
            )
        )


class AsyncCoffer:
    """`Coffer` for asyncio: the same methods, awaited (`iter_rewards` is an async iterator)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        retry: Retry | None = None,
        claim_wait_s: float = DEFAULT_CLAIM_WAIT_S,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = _Settings(retry, claim_wait_s)
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=_headers(api_key), timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    step = flow.send(None)
                    continue
                try:
                    response = await self._http.send(_request(self._http, step))
                except httpx.TransportError as error:
                    step = flow.throw(error)  # the flow retries, or re-raises the last one
                else:
                    step = flow.send(response)
        except StopIteration as done:
            return cast(T, done.value)

    async def list_rewards(
        self,
        *,
        reward_type: RewardType | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        participant_id: str | None = None,
    ) -> RewardPage:
        """See `Coffer.list_rewards`."""
        return await self._run(
            ops.list_rewards(
                self._settings.retry, reward_type=reward_type, limit=limit, cursor=cursor,
                participant_id=participant_id,
            )
        )  # fmt: skip

    async def iter_rewards(
        self, *, reward_type: RewardType | None = None, participant_id: str | None = None
    ) -> AsyncIterator[RewardEntry]:
        """See `Coffer.iter_rewards`."""
        cursor: str | None = None
        while True:
            page = await self.list_rewards(
                reward_type=reward_type, limit=200, cursor=cursor, participant_id=participant_id
            )
            for entry in page.rewards:
                yield entry
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def get_reward(self, reward_id: str) -> RewardEntry:
        """See `Coffer.get_reward`."""
        return await self._run(ops.get_reward(self._settings.retry, reward_id))

    async def claim(
        self,
        reward_id: str,
        participant_id: str,
        *,
        points_deduction: bool = False,
        idempotency_key: str | None = None,
        server_wait_s: int | None = None,
    ) -> ClaimSucceeded | ClaimView:
        """See `Coffer.claim`."""
        return await self._run(
            ops.claim(
                self._settings.retry, reward_id, participant_id, points_deduction=points_deduction,
                idempotency_key=idempotency_key, wait_s=self._settings.claim_wait_s,
                server_wait_s=server_wait_s,
            )
        )  # fmt: skip

    async def get_claim(self, claim_id: str) -> ClaimView | ClaimPending | ClaimFailed:
        """See `Coffer.get_claim`."""
        return await self._run(ops.get_claim(self._settings.retry, claim_id))

    async def participant_rewards(
        self, participant_id: str, *, include_reversed: bool = False
    ) -> ParticipantRewards:
        """See `Coffer.participant_rewards`."""
        return await self._run(
            ops.participant_rewards(
                self._settings.retry, participant_id, include_reversed=include_reversed
            )
        )

    async def points(self, participant_id: str) -> PointsSummary:
        """See `Coffer.points`."""
        return await self._run(ops.points(self._settings.retry, participant_id))

    async def credit_points(
        self,
        participant_id: str,
        amount: int,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> PointsCredited:
        """See `Coffer.credit_points`."""
        return await self._run(
            ops.credit_points(
                self._settings.retry, participant_id, amount, reason=reason,
                idempotency_key=idempotency_key,
            )
        )  # fmt: skip

    async def create_participant_token(
        self, participant_id: str, *, ttl_seconds: int | None = None
    ) -> ParticipantToken:
        """See `Coffer.create_participant_token`."""
        return await self._run(
            ops.create_participant_token(
                self._settings.retry, participant_id, ttl_seconds=ttl_seconds
            )
        )
