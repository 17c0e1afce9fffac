"""Participant ids must be addressable in a URL, so control characters are refused everywhere."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient

from tests.support.tenants import TestTenant

API = "/api/v1/gamify"


@pytest.mark.parametrize("participant", ["user\n42", "tab\there", "bell\x07", "del\x7f"])
def test_a_claim_for_a_participant_with_control_characters_is_refused(
    client: FlaskClient, tenant: TestTenant, participant: str
) -> None:
    reward = client.post(
        f"{API}/rewards", json={"name": "R", "type": "coupon"}, headers=tenant.auth()
    )
    response = client.post(
        f"{API}/rewards/{reward.json['id']}/claim",
        json={"participant_id": participant},
        headers={**tenant.auth(), "Idempotency-Key": uuid.uuid4().hex, "Prefer": "respond-async"},
    )
    assert response.status_code == 400 and response.json["errors"][0]["field"] == "participant_id"


def test_a_path_participant_with_a_carriage_return_is_refused_not_created(
    client: FlaskClient, tenant: TestTenant
) -> None:
    credit = client.post(
        f"{API}/participants/a%0Db/points", json={"amount": 5},
        headers={**tenant.auth(), "Idempotency-Key": uuid.uuid4().hex},
    )  # fmt: skip
    assert credit.status_code == 400 and credit.json["code"] == "validation_error"
    assert client.get(f"{API}/participants/a%0Db/points", headers=tenant.auth()).status_code == 400


def test_slashes_and_unicode_are_ordinary_participant_ids(
    client: FlaskClient, tenant: TestTenant
) -> None:
    for participant in ("team/alice", "zoë"):
        path = f"{API}/participants/{participant}/points"
        headers = {**tenant.auth(), "Idempotency-Key": uuid.uuid4().hex}
        assert client.post(path, json={"amount": 7}, headers=headers).json["balance"] == 7
        assert client.get(path, headers=tenant.auth()).json["participant_id"] == participant
