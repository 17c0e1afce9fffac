"""`AsyncCoffer` against a real Coffer: the same behaviour as `Coffer`, awaited."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from coffer_client import (
    AsyncCoffer,
    ClaimSucceeded,
    ClaimView,
    InsufficientPoints,
    Retry,
    RewardNotFound,
)
from conftest import Server
from proxy_faults import FaultyProxy

FAST = Retry(attempts=3, backoff_s=0.01, max_backoff_s=0.05)


def test_claims_concurrently_each_once_with_typed_results(server: Server, participant: str) -> None:
    reward_id = server.create_reward(
        code_generation={"prefix": "AS-", "length": 8}, max_claims_per_user=10
    )["id"]
    keys = [f"order-{uuid.uuid4().hex}" for _ in range(5)]

    async def run() -> tuple[list[ClaimSucceeded | ClaimView], int, int]:
        async with AsyncCoffer(server.base_url, server.server_key) as coffer:
            # Each key twice at once: five claims, never ten.
            claims = await asyncio.gather(
                *(coffer.claim(reward_id, participant, idempotency_key=k) for k in keys * 2)
            )
            held = await coffer.participant_rewards(participant)
            listed = [entry.id async for entry in coffer.iter_rewards()]
            return claims, held.total_claimed, listed.count(reward_id)

    claims, total, listed = asyncio.run(run())

    assert len({claim.claim_id for claim in claims}) == 5 == total
    assert [c.code_value for c in claims[:5]] == [c.code_value for c in claims[5:]]
    assert listed == 1


def test_a_refusal_after_a_202_and_an_unknown_reward_are_typed(
    server: Server, participant: str
) -> None:
    reward_id = server.create_reward(
        code_generation={"prefix": "AS-", "length": 8}, points_cost=10
    )["id"]

    async def run() -> None:
        async with AsyncCoffer(server.base_url, server.server_key) as coffer:
            with pytest.raises(InsufficientPoints):
                await coffer.claim(reward_id, participant, points_deduction=True, server_wait_s=0)
            with pytest.raises(RewardNotFound):
                await coffer.get_reward("rwd_01jd3x8k2m9q4r7t5v6w8y0z1a")

    asyncio.run(run())


def test_a_lost_answer_is_retried_with_the_same_key(
    server: Server, proxy: FaultyProxy, participant: str
) -> None:
    reward_id = server.create_reward(code_generation={"prefix": "AS-", "length": 8})["id"]
    proxy.fail_next("drop_after")
    proxy.fail_next("bad_gateway")

    async def run() -> tuple[ClaimSucceeded | ClaimView, int]:
        async with AsyncCoffer(proxy.base_url, server.server_key, retry=FAST) as coffer:
            claim = await coffer.claim(reward_id, participant)
        async with AsyncCoffer(server.base_url, server.server_key) as direct:
            return claim, (await direct.participant_rewards(participant)).total_claimed

    claim, total = asyncio.run(run())

    assert proxy.faulted == ["drop_after", "bad_gateway"]
    assert claim.code_value.startswith("AS-") and total == 1
