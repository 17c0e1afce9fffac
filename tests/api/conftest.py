"""Helpers for API tests: a caller speaking as one key, problem checks, database reads."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from api.ratelimit import RateLimiter
from core.models import IdempotencyRecord, LedgerEntry, Participant, Reward, RewardCode
from core.runtime import Runtime
from core.schemas import RewardEntry
from core.schemas.catalog import ADMIN_MEMBERS
from tests.support.tenants import TestTenant

GAMIFY = "/api/v1/gamify"
PROBLEM_JSON = "application/problem+json"
# The members every catalog entry carries, in wire order (eligibility only on request).
# The entry as an admin key sees it: every member but the listing-only `eligibility`
# (CONTRACT §4's admin-only members are absent for server keys).
# What a server key sees; admin keys also get ADMIN_MEMBERS (CONTRACT §4).
ENTRY_KEYS = [
    name for name in RewardEntry.model_fields if name not in ("eligibility", *ADMIN_MEMBERS)
]


def new_id(prefix: str = "user") -> str:
    """A random participant id (or Idempotency-Key), so tests never share state."""
    return f"{prefix}-{uuid.uuid4().hex}"


class Caller:
    """The Flask test client speaking as one key; paths are relative to /api/v1/gamify."""

    def __init__(self, client: FlaskClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {**self.headers, **(extra or {})}

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(GAMIFY + path, headers=self._headers(kwargs.pop("headers", None)))

    def post(self, path: str, body: Any = None, **kwargs: Any) -> TestResponse:
        headers = self._headers(kwargs.pop("headers", None))
        if "data" in kwargs:
            return self.client.post(GAMIFY + path, headers=headers, **kwargs)
        return self.client.post(GAMIFY + path, json=body, headers=headers, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> TestResponse:
        headers = self._headers(kwargs.pop("headers", None))
        if "data" in kwargs:
            return self.client.patch(GAMIFY + path, headers=headers, **kwargs)
        return self.client.patch(GAMIFY + path, json=body, headers=headers)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.delete(GAMIFY + path, headers=self._headers(kwargs.pop("headers", None)))

    # The few calls most tests make, each asserting its own success.

    def create_reward(self, **fields: Any) -> dict[str, Any]:
        response = self.post("/rewards", {"name": "10% Off Coupon", "type": "coupon", **fields})
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.json  # type: ignore[return-value]

    def reward(self, reward_id: str) -> dict[str, Any]:
        response = self.get(f"/rewards/{reward_id}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json  # type: ignore[return-value]

    def upload(self, reward_id: str, codes: list[str]) -> dict[str, Any]:
        response = self.post(f"/rewards/{reward_id}/codes", {"codes": codes})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json  # type: ignore[return-value]

    def credit(self, participant: str, amount: int, *, key: str | None = None) -> TestResponse:
        return self.post(
            f"/participants/{participant}/points",
            {"amount": amount, "reason": "test credit"},
            headers={"Idempotency-Key": new_id("key") if key is None else key},
        )

    def balance(self, participant: str) -> int:
        response = self.get(f"/participants/{participant}/points")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json["balance"]  # type: ignore[index]

    def listed_ids(self, query: str = "") -> set[str]:
        response = self.get(f"/rewards?limit=200{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return {entry["id"] for entry in response.json["rewards"]}  # type: ignore[index]

    def claim(
        self,
        reward_id: str,
        body: Any,
        *,
        key: str | None = None,
        prefer: str | None = "respond-async",
    ) -> TestResponse:
        headers = {} if key is None else {"Idempotency-Key": key}
        if prefer is not None:
            headers["Prefer"] = prefer
        return self.post(f"/rewards/{reward_id}/claim", body, headers=headers)


def assert_problem(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 problem with the contract's fields; returns the document."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json(force=True)
    assert problem["type"] == problem["code"] == code
    assert problem["status"] == status
    assert isinstance(problem["title"], str) and problem["title"]
    assert isinstance(problem["detail"], str) and problem["detail"]
    if code == "validation_error":
        assert problem["errors"], "a validation error lists its fields"
    return problem


def error_fields(response: TestResponse) -> set[str]:
    """The fields a 400 validation_error names."""
    problem = assert_problem(response, 400, "validation_error")
    return {item["field"] for item in problem["errors"]}


@pytest.fixture
def admin(client: FlaskClient, tenant: TestTenant) -> Caller:
    return Caller(client, tenant.auth("live", "admin"))


@pytest.fixture
def server(client: FlaskClient, tenant: TestTenant) -> Caller:
    return Caller(client, tenant.auth("live", "server"))


@pytest.fixture
def test_admin(client: FlaskClient, tenant: TestTenant) -> Caller:
    """The same tenant's admin key in test mode."""
    return Caller(client, tenant.auth("test", "admin"))


@pytest.fixture
def other_admin(client: FlaskClient, other_tenant: TestTenant) -> Caller:
    return Caller(client, other_tenant.auth("live", "admin"))


# Reading the database directly: what the API must (or must not) have written.


def reward_rows(runtime: Runtime, tenant: TestTenant, mode: str = "live") -> int:
    with runtime.db.transaction() as session:
        return session.scalar(
            select(func.count())
            .select_from(Reward)
            .where(Reward.tenant_id == tenant.id, Reward.mode == mode)
        )  # type: ignore[return-value]


def codes_in_seq_order(runtime: Runtime, reward_id: str) -> list[tuple[int, str]]:
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(RewardCode.seq, RewardCode.value)
            .where(RewardCode.reward_id == reward_id)
            .order_by(RewardCode.seq)
        )
        return [(int(seq), value) for seq, value in rows]


def requests_under_key(runtime: Runtime, tenant: TestTenant, key: str) -> int:
    """How many requests are recorded under an Idempotency-Key (any mode)."""
    with runtime.db.transaction() as session:
        return session.scalar(
            select(func.count())
            .select_from(IdempotencyRecord)
            .where(
                IdempotencyRecord.tenant_id == tenant.id, IdempotencyRecord.idempotency_key == key
            )
        )  # type: ignore[return-value]


@pytest.fixture
def recorded(runtime: Runtime, tenant: TestTenant) -> Callable[[str], int]:
    """How many requests the tenant has recorded under a key."""
    return lambda key: requests_under_key(runtime, tenant, key)


def ledger_sum(runtime: Runtime, tenant: TestTenant, participant: str, mode: str = "live") -> int:
    with runtime.db.transaction() as session:
        total = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0))
            .join(Participant, Participant.id == LedgerEntry.participant_id)
            .where(
                Participant.tenant_id == tenant.id,
                Participant.mode == mode,
                Participant.external_id == participant,
            )
        )
    return int(total or 0)


@contextmanager
def limits_changed(
    app: Flask, *, max_body_bytes: int | None = None, rate_limit: str | None = None
) -> Iterator[None]:
    """The API with COFFER_MAX_BODY_BYTES or COFFER_RATE_LIMIT changed, inside the block.

    api.create_app() cannot yet build a second app in one process (it adds
    before_request to module-level blueprints that are already registered), so
    this changes the session app the way create_app would have configured it.
    The limiter counts in memory, private to the block.
    """
    services = app.extensions["coffer"]
    saved = app.config["MAX_CONTENT_LENGTH"], services.limiter
    try:
        if max_body_bytes is not None:
            app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
        if rate_limit is not None:
            services.limiter = RateLimiter(rate_limit, None)
        yield
    finally:
        app.config["MAX_CONTENT_LENGTH"], services.limiter = saved


@contextmanager
def unchanged_rewards(runtime: Runtime, tenant: TestTenant) -> Iterator[None]:
    before = reward_rows(runtime, tenant)
    yield
    assert reward_rows(runtime, tenant) == before
