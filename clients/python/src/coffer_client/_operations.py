"""The server-key endpoints, as flows (coffer_client/_flows.py) returning typed results.

`ENDPOINTS` names, for each client method, the operation it calls in Coffer's
OpenAPI document (method, path, the query parameters it may send and the
schema of its success answer); the package's tests check the table against the
document a real Coffer serves.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from coffer_client import _flows
from coffer_client._flows import API, Flow, Retry, Send, segment
from coffer_client.models import (
    CLAIM_STATE,
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


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as the OpenAPI document writes it
    answers: dict[int, str]  # success status -> schema name
    query: tuple[str, ...] = ()
    body: tuple[str, ...] = ()  # the JSON body's members the client sends


ENDPOINTS: dict[str, Endpoint] = {
    "list_rewards": Endpoint(
        "GET", f"{API}/rewards", {200: "RewardPage"},
        ("reward_type", "limit", "cursor", "participant_id"),
    ),
    "get_reward": Endpoint("GET", f"{API}/rewards/{{reward_id}}", {200: "RewardEntry"}),
    "claim": Endpoint(
        "POST", f"{API}/rewards/{{reward_id}}/claim", {201: "ClaimSucceeded", 202: "ClaimPending"},
        body=("participant_id", "points_deduction"),
    ),
    "get_claim": Endpoint("GET", f"{API}/claims/{{claim_id}}", {200: "ClaimStatus"}),
    "participant_rewards": Endpoint(
        "GET", f"{API}/participants/{{participant_id}}/rewards", {200: "ParticipantRewards"},
        ("include",),
    ),
    "points": Endpoint(
        "GET", f"{API}/participants/{{participant_id}}/points", {200: "PointsSummary"}
    ),
    "credit_points": Endpoint(
        "POST", f"{API}/participants/{{participant_id}}/points", {201: "PointsCredited"},
        body=("amount", "reason"),
    ),
    "create_participant_token": Endpoint(
        "POST", f"{API}/participants/{{participant_id}}/tokens", {201: "ParticipantToken"},
        body=("ttl_seconds",),
    ),
}  # fmt: skip


def _url(name: str, **segments: str) -> str:
    """The endpoint's path from the table, each segment percent-encoded whole."""
    return ENDPOINTS[name].path.format(**{key: segment(value) for key, value in segments.items()})


def new_key() -> str:
    """A fresh Idempotency-Key: it makes this call's own retries safe, nothing more."""
    return f"coffer-py-{uuid.uuid4().hex}"


def list_rewards(
    policy: Retry, *, reward_type: RewardType | None, limit: int | None, cursor: str | None,
    participant_id: str | None,
) -> Flow[RewardPage]:  # fmt: skip
    given = {"reward_type": reward_type, "limit": limit, "cursor": cursor,
             "participant_id": participant_id}  # fmt: skip
    params = {name: str(value) for name, value in given.items() if value is not None}
    body = yield from _flows.read(Send("GET", _url("list_rewards"), params=params), policy)
    return RewardPage.model_validate(body)


def get_reward(policy: Retry, reward_id: str) -> Flow[RewardEntry]:
    body = yield from _flows.read(Send("GET", _url("get_reward", reward_id=reward_id)), policy)
    return RewardEntry.model_validate(body)


def claim(
    policy: Retry, reward_id: str, participant_id: str, *, points_deduction: bool,
    idempotency_key: str | None, wait_s: float, server_wait_s: int | None,
) -> Flow[ClaimSucceeded | ClaimView]:  # fmt: skip
    headers = {"Idempotency-Key": idempotency_key or new_key()}
    if server_wait_s is not None:
        headers["Prefer"] = f"wait={server_wait_s}" if server_wait_s > 0 else "respond-async"
    send = Send(
        "POST",
        _url("claim", reward_id=reward_id),
        json={"participant_id": participant_id, "points_deduction": points_deduction},
        headers=headers,
    )
    return (yield from _flows.claim(send, policy, wait_s=wait_s))


def get_claim(policy: Retry, claim_id: str) -> Flow[ClaimView | ClaimPending | ClaimFailed]:
    body = yield from _flows.read(Send("GET", _url("get_claim", claim_id=claim_id)), policy)
    return CLAIM_STATE.validate_python(body)


def participant_rewards(
    policy: Retry, participant_id: str, *, include_reversed: bool
) -> Flow[ParticipantRewards]:
    params = {"include": "reversed"} if include_reversed else {}
    send = Send("GET", _url("participant_rewards", participant_id=participant_id), params=params)
    return ParticipantRewards.model_validate((yield from _flows.read(send, policy)))


def points(policy: Retry, participant_id: str) -> Flow[PointsSummary]:
    send = Send("GET", _url("points", participant_id=participant_id))
    return PointsSummary.model_validate((yield from _flows.read(send, policy)))


def credit_points(
    policy: Retry, participant_id: str, amount: int, *, reason: str | None,
    idempotency_key: str | None,
) -> Flow[PointsCredited]:  # fmt: skip
    send = Send(
        "POST",
        _url("credit_points", participant_id=participant_id),
        json={"amount": amount, "reason": reason},
        headers={"Idempotency-Key": idempotency_key or new_key()},
    )
    return PointsCredited.model_validate((yield from _flows.read(send, policy)))


def create_participant_token(
    policy: Retry, participant_id: str, *, ttl_seconds: int | None
) -> Flow[ParticipantToken]:
    body = {} if ttl_seconds is None else {"ttl_seconds": ttl_seconds}
    send = Send("POST", _url("create_participant_token", participant_id=participant_id), json=body)
    return ParticipantToken.model_validate((yield from _flows.read(send, policy)))
