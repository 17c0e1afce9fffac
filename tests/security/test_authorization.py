"""Object- and function-level authorization on every operation of the OpenAPI document.

OWASP API1 (BOLA) and API5 (BFLA), CONTRACT §2. The operations come from the
served document (tests/security/surface.py), so a new endpoint is covered the
day it is added: with a path id it must answer another tenant's and the other
mode's key 404; if admin-only, a server key 403; unless public, a missing,
unknown or revoked key 401. Each test then checks that the owner's objects
read exactly as before.
"""

from __future__ import annotations

import uuid

from flask import Flask
from werkzeug.test import TestResponse

from core.runtime import Runtime
from core.tenants import issue_key, revoke_key
from tests.security.conftest import G, World
from tests.security.surface import Call, calls

# Path parameters that name no Coffer-made object, and why they answer no 404.
NOT_OBJECT_IDS = {
    "participant_id": (
        "a participant is named by the tenant (its own user id), so the same name under "
        "another tenant or mode is that caller's own participant: it reads as empty and a "
        "credit lands on it (test_a_participant_name_reaches_only_the_callers_own_participant)"
    ),
}


def _refusal(response: TestResponse, status: int, code_suffix: str) -> str | None:
    """Why the response is not the expected problem, or None."""
    body = response.get_data(as_text=True)
    if response.status_code != status or response.mimetype != "application/problem+json":
        return f"{response.status_code} {body[:200]}"
    if not response.get_json()["code"].endswith(code_suffix):
        return f"code {response.get_json()['code']}"
    return None


def _leaks(response: TestResponse, world: World) -> list[str]:
    """The owner's data that a refusal must never carry (its ids are only those the caller sent)."""
    text = response.get_data(as_text=True)
    private = [world.owner.id, "Owner's coupon", "OWNER-", "93.184.215.14", "whsec_"]
    return [value for value in private if value in text]


def test_every_operation_with_an_id_is_not_found_for_another_tenant_or_mode(
    app: Flask, world: World
) -> None:
    client = app.test_client()
    before = world.snapshot(app)
    strangers = {
        "another tenant": world.intruder.auth("live", "admin"),
        "the other mode": world.owner.auth("test", "admin"),
    }
    checked, failures = [], []

    for call in calls(client, world.ids):
        if not call.path_ids or set(call.path_ids) <= set(NOT_OBJECT_IDS):
            continue
        checked.append(call.name)
        for who, auth in strangers.items():
            response = call.send(client, world.ids, auth)
            why = _refusal(response, 404, "not_found")
            if why or _leaks(response, world):
                failures.append(f"{call.name} as {who}: {why or _leaks(response, world)}")

    assert not failures, "\n".join(failures)
    assert len(checked) >= 17, checked  # the document has 17 such operations today
    assert world.snapshot(app) == before


def test_a_reward_id_in_a_body_is_not_found_for_another_tenant(app: Flask, world: World) -> None:
    client = app.test_client()
    body = {"reward_id": world.ids["reward_id"], "participant_ids": ["intruder"]}
    before = world.snapshot(app)

    for auth in (world.intruder.auth("live", "admin"), world.owner.auth("test", "admin")):
        headers = {**auth, "Idempotency-Key": uuid.uuid4().hex}
        response = client.post(f"{G}/campaigns", json=body, headers=headers)
        assert _refusal(response, 404, "reward_not_found") is None, response.get_data()

    assert world.snapshot(app) == before


def test_a_participant_name_reaches_only_the_callers_own_participant(
    app: Flask, world: World
) -> None:
    client, pid = app.test_client(), world.ids["participant_id"]
    before = world.snapshot(app)
    participant_calls = [c for c in calls(client, world.ids) if "participant_id" in c.path_ids]
    assert {c.operation_id for c in participant_calls} >= {
        "creditPoints", "getPoints", "getParticipantRewards",
    }  # fmt: skip

    for auth in (world.intruder.auth("live", "admin"), world.owner.auth("test", "admin")):
        for call in participant_calls:
            assert call.send(client, world.ids, auth).status_code < 300, call.name
        points = client.get(f"{G}/participants/{pid}/points", headers=auth).get_json()
        rewards = client.get(f"{G}/participants/{pid}/rewards", headers=auth).get_json()
        assert points["balance"] == 1_000  # only the caller's own credit (BODIES)
        assert [e["amount"] for e in points["entries"]] == [1_000]
        assert rewards["rewards"] == [] and rewards["total_claimed"] == 0

    assert world.snapshot(app) == before  # the owner's 50 points and claim, untouched


def test_a_server_key_is_forbidden_on_every_admin_operation(app: Flask, world: World) -> None:
    client = app.test_client()
    before = world.snapshot(app)
    admin_calls = [c for c in calls(client, world.ids) if c.access == "admin"]

    server = world.owner.auth("live", "server")
    failures = [
        f"{call.name}: {why}"
        for call in admin_calls
        if (why := _refusal(call.send(client, world.ids, server), 403, "forbidden"))
    ]

    assert not failures, "\n".join(failures)
    assert len(admin_calls) >= 20
    assert world.snapshot(app) == before


def _revoked_key(runtime: Runtime, world: World) -> str:
    with runtime.db.transaction() as session:
        issued = issue_key(session, tenant_id=world.owner.id, mode="live", scope="admin")
    with runtime.db.transaction() as session:
        revoke_key(session, prefix=issued.prefix, redis=runtime.redis)
    return issued.key


def test_no_unknown_or_revoked_key_is_unauthorized_on_every_keyed_operation(
    app: Flask, runtime: Runtime, world: World
) -> None:
    client = app.test_client()
    before = world.snapshot(app)
    keyed = [c for c in calls(client, world.ids) if c.access != "public"]
    callers = {
        "no key": {},
        "an unknown key": {"Authorization": "Bearer ck_live_" + "Z" * 43},
        "a revoked key": {"Authorization": f"Bearer {_revoked_key(runtime, world)}"},
    }

    failures = [
        f"{call.name} with {who}: {why}"
        for call in keyed
        for who, auth in callers.items()
        if (why := _refusal(call.send(client, world.ids, auth), 401, "unauthorized"))
    ]

    assert not failures, "\n".join(failures)
    assert len(keyed) >= 27
    assert world.snapshot(app) == before


def test_public_operations_answer_without_a_key(app: Flask, world: World) -> None:
    client = app.test_client()
    public: list[Call] = [c for c in calls(client, world.ids) if c.access == "public"]

    statuses = {call.name: call.send(client, world.ids, {}).status_code for call in public}

    assert statuses == dict.fromkeys(statuses, 200)
    assert set(statuses) == {
        "GET /healthz", "GET /readyz", "GET /metrics", "GET /docs", "GET /api/v1/openapi.json",
        "GET /admin",
    }  # fmt: skip  # CONTRACT §9: these, and only these, need no key; §11: the dashboard's
    # page itself is public (it holds no data: every call it makes carries the admin key)


TOKEN_READS = {"getPoints", "getParticipantRewards"}  # CONTRACT §10: a token's only two calls


def _token(app: Flask, world: World, participant: str) -> str:
    response = app.test_client().post(
        f"{G}/participants/{participant}/tokens",
        json={"ttl_seconds": 600},
        headers=world.owner.auth("live", "server"),
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    token = response.get_json()["token"]
    assert token.startswith("cpt_")
    return token  # type: ignore[no-any-return]


def test_a_participant_token_is_forbidden_on_every_operation_but_its_two_reads(
    app: Flask, world: World
) -> None:
    client = app.test_client()
    before = world.snapshot(app)
    bearer = {"Authorization": f"Bearer {_token(app, world, world.ids['participant_id'])}"}
    keyed = [c for c in calls(client, world.ids) if c.access != "public"]

    answered = {c.operation_id: c.send(client, world.ids, bearer) for c in keyed}

    failures = [
        f"{op}: {why}"
        for op, response in answered.items()
        if op not in TOKEN_READS and (why := _refusal(response, 403, "forbidden"))
    ]
    assert not failures, "\n".join(failures)
    assert {op: answered[op].status_code for op in TOKEN_READS} == dict.fromkeys(TOKEN_READS, 200)
    assert answered["getPoints"].get_json()["balance"] == before["points"]["balance"]
    assert len(keyed) >= 28
    assert world.snapshot(app) == before


def test_a_participant_token_reads_only_its_own_participant(app: Flask, world: World) -> None:
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {_token(app, world, 'someone-else')}"}
    owner = world.ids["participant_id"]

    for read in ("points", "rewards"):
        response = client.get(f"{G}/participants/{owner}/{read}", headers=bearer)
        assert _refusal(response, 403, "forbidden") is None, response.get_data()
        assert not _leaks(response, world)
