"""`Coffer` against a real Coffer: typed results, typed errors, retries, 202 follow-up."""

from __future__ import annotations

import uuid

import httpx
import pytest
from coffer_client import (
    ClaimSucceeded,
    ClaimView,
    Coffer,
    Forbidden,
    IdempotencyKeyReused,
    InsufficientPoints,
    InventoryExhausted,
    MaxClaimsExceeded,
    Retry,
    RewardNotFound,
    ServerError,
    Unauthorized,
    ValidationFailed,
)
from conftest import Server, free_port
from proxy_faults import FaultyProxy

FAST = Retry(attempts=3, backoff_s=0.01, max_backoff_s=0.05)


def coupon(server: Server, **fields: object) -> str:
    generated = {"code_generation": {"prefix": "PY-", "length": 8}}
    return str(server.create_reward(**{**generated, **fields})["id"])


def test_the_catalog_reads_as_typed_entries_with_eligibility(
    server: Server, participant: str
) -> None:
    reward_id = coupon(server, name="Paid", points_cost=500)
    with Coffer(server.base_url, server.server_key) as coffer:
        page = coffer.list_rewards(participant_id=participant, limit=200)
        listed = {entry.id: entry for entry in coffer.iter_rewards(participant_id=participant)}
        entry = coffer.get_reward(reward_id)

    assert page.total >= 1 and reward_id in listed
    assert entry.points_cost == 500 and entry.status == "active" and entry.type == "coupon"
    assert entry.code_generation is None  # an admin-only member: a server key never sees it
    eligibility = listed[reward_id].eligibility
    assert eligibility is not None
    assert (eligibility.eligible, eligibility.reason) == (False, "insufficient_points")


def test_an_unknown_reward_is_a_typed_not_found_with_its_problem(server: Server) -> None:
    with (
        Coffer(server.base_url, server.server_key) as coffer,
        pytest.raises(RewardNotFound) as raised,
    ):
        coffer.get_reward("rwd_01jd3x8k2m9q4r7t5v6w8y0z1a")

    assert (raised.value.code, raised.value.status) == ("reward_not_found", 404)
    assert raised.value.problem["type"] == "reward_not_found"


def test_a_claim_hands_out_a_code_and_debits_the_points_once(
    server: Server, participant: str
) -> None:
    reward_id = coupon(server, points_cost=300)
    with Coffer(server.base_url, server.server_key) as coffer:
        credited = coffer.credit_points(participant, 500, reason="order 1")
        claim = coffer.claim(reward_id, participant, points_deduction=True)
        held = coffer.participant_rewards(participant)
        points = coffer.points(participant)

    assert credited.balance == 500
    assert isinstance(claim, ClaimSucceeded)
    assert claim.code_value.startswith("PY-") and claim.points_deducted == 300
    assert claim.new_balance == 200 == points.balance
    assert [r.claim_id for r in held.rewards] == [claim.claim_id] and held.total_claimed == 1
    assert [e.kind for e in points.entries] == ["claim_debit", "credit"]


def test_business_refusals_are_typed_exceptions(server: Server, participant: str) -> None:
    paid = coupon(server, points_cost=1000)
    single = server.create_reward(name="Last one")["id"]
    server.upload(single, [f"ONLY-{uuid.uuid4().hex}"])
    with Coffer(server.base_url, server.server_key) as coffer:
        with pytest.raises(InsufficientPoints) as poor:
            coffer.claim(paid, participant, points_deduction=True)
        coffer.claim(single, participant)
        with pytest.raises(MaxClaimsExceeded):
            coffer.claim(single, participant)
        with pytest.raises(InventoryExhausted):
            coffer.claim(single, f"{participant}-2")

    assert (poor.value.code, poor.value.status) == ("insufficient_points", 409)
    assert poor.value.problem["detail"]


def test_the_same_idempotency_key_returns_the_first_claim(server: Server, participant: str) -> None:
    reward_id = coupon(server, max_claims_per_user=5)
    key = f"order-{uuid.uuid4().hex}"
    with Coffer(server.base_url, server.server_key) as coffer:
        first = coffer.claim(reward_id, participant, idempotency_key=key)
        again = coffer.claim(reward_id, participant, idempotency_key=key)
        with pytest.raises(IdempotencyKeyReused):
            coffer.claim(reward_id, f"{participant}-other", idempotency_key=key)
        held = coffer.participant_rewards(participant)

    assert (again.claim_id, again.code_value) == (first.claim_id, first.code_value)
    assert held.total_claimed == 1


def test_a_202_is_followed_through_location_to_the_final_state(
    server: Server, participant: str
) -> None:
    reward_id = coupon(server, points_cost=50)
    with Coffer(server.base_url, server.server_key) as coffer:
        decided = coffer.claim(reward_id, participant, server_wait_s=0)  # respond-async: 202
        with pytest.raises(InsufficientPoints):  # decided later, refused: still typed
            coffer.claim(reward_id, f"{participant}-poor", points_deduction=True, server_wait_s=0)
        read = coffer.get_claim(decided.claim_id)

    assert isinstance(decided, ClaimView)  # read back from the Location
    assert decided.status == "succeeded" and decided.fulfillment_status == "not_required"
    assert decided.code_value.startswith("PY-")
    assert read == decided


def test_a_claim_whose_answer_was_lost_is_retried_with_its_key_and_claims_once(
    server: Server, proxy: FaultyProxy, participant: str
) -> None:
    """Coffer decided the claim, the connection dropped before the answer: the retry with
    the same key gets the original outcome, not a second code."""
    reward_id = coupon(server, points_cost=100, max_claims_per_user=5)
    with Coffer(server.base_url, server.server_key) as direct:
        direct.credit_points(participant, 1000)
    proxy.fail_next("drop_after")
    with Coffer(proxy.base_url, server.server_key, retry=FAST) as coffer:
        claim = coffer.claim(reward_id, participant, points_deduction=True)
    with Coffer(server.base_url, server.server_key) as direct:
        held = direct.participant_rewards(participant)
        points = direct.points(participant)

    assert proxy.faulted == ["drop_after"] and proxy.connections >= 2
    assert held.total_claimed == 1 and held.rewards[0].code_value == claim.code_value
    assert points.balance == 900 and [e.kind for e in points.entries].count("claim_debit") == 1


def test_reads_are_retried_after_a_dropped_connection_and_a_bad_gateway(
    server: Server, proxy: FaultyProxy, participant: str
) -> None:
    proxy.fail_next("drop_before")
    proxy.fail_next("bad_gateway")
    with Coffer(proxy.base_url, server.server_key, retry=FAST) as coffer:
        points = coffer.points(participant)

    assert points.balance == 0 and points.participant_id == participant
    assert proxy.faulted == ["drop_before", "bad_gateway"]


def test_a_5xx_beyond_the_retries_is_raised_as_a_server_error(
    server: Server, proxy: FaultyProxy, participant: str
) -> None:
    proxy.fail_next("bad_gateway", times=3)
    with (
        Coffer(proxy.base_url, server.server_key, retry=FAST) as coffer,
        pytest.raises(ServerError) as raised,
    ):
        coffer.points(participant)

    assert raised.value.status == 502 and proxy.faulted == ["bad_gateway"] * 3


def test_a_network_error_beyond_the_retries_is_raised(server: Server) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    with Coffer(nobody, server.server_key, retry=FAST) as coffer, pytest.raises(httpx.ConnectError):
        coffer.list_rewards()


def test_a_participant_token_reads_only_its_participant(server: Server, participant: str) -> None:
    with Coffer(server.base_url, server.server_key) as coffer:
        coffer.credit_points(participant, 70)
        token = coffer.create_participant_token(participant, ttl_seconds=120)
    with Coffer(server.base_url, token.token) as browser:
        points = browser.points(participant)
        with pytest.raises(Forbidden):
            browser.list_rewards()

    assert token.token.startswith("cpt_") and points.balance == 70


def test_a_bad_key_and_a_bad_amount_are_typed(server: Server, participant: str) -> None:
    with Coffer(server.base_url, "ck_live_not-a-key") as stranger, pytest.raises(Unauthorized):
        stranger.points(participant)
    with (
        Coffer(server.base_url, server.server_key) as coffer,
        pytest.raises(ValidationFailed) as refused,
    ):
        coffer.credit_points(participant, 0)

    assert [error["field"] for error in refused.value.errors] == ["amount"]
