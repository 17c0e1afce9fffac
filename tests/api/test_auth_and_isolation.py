"""Keys, scopes, and the walls between tenants and modes."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from core.runtime import Runtime
from core.tenants import revoke_key
from tests.api.conftest import (
    Caller,
    assert_problem,
    new_id,
    requests_under_key,
    reward_rows,
)
from tests.support.queries import statements_naming
from tests.support.tenants import TestTenant


def prefix_of(key: str) -> str:
    return key[: len("ck_live_") + 8]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-coffer-key",
        "Bearer ck_live_",
        "Bearer ck_live_" + "A" * 43,
        "Bearer ck_prod_" + "A" * 43,
        "Token ck_live_" + "A" * 43,
    ],
)
def test_a_missing_malformed_or_unknown_key_is_unauthorized(
    client: FlaskClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = client.get("/api/v1/gamify/rewards", headers=headers)

    assert_problem(response, 401, "unauthorized")


def test_a_real_key_with_the_wrong_scheme_or_a_typo_is_unauthorized(
    client: FlaskClient, tenant: TestTenant
) -> None:
    key = tenant.key("live", "admin")

    for authorization in (f"Basic {key}", f"Bearer {key}x", f"Bearer {key[:-1]}", key):
        response = client.get("/api/v1/gamify/rewards", headers={"Authorization": authorization})
        assert_problem(response, 401, "unauthorized")
    ok = client.get("/api/v1/gamify/rewards", headers={"Authorization": f"bearer {key}"})
    assert ok.status_code == 200  # the scheme is case-insensitive


def test_a_known_key_is_authenticated_without_a_database_query(
    client: FlaskClient, tenant: TestTenant, runtime: Runtime
) -> None:
    server = Caller(client, tenant.auth("live", "server"))
    assert [server.get("/rewards").status_code for _ in range(2)] == [200, 200]  # looked up

    with statements_naming(runtime.db.engine, "api_keys") as lookups:
        assert [server.get("/rewards").status_code for _ in range(3)] == [200] * 3

    assert lookups == []  # cached: Redis is configured (core/key_cache.py)


def test_a_revoked_key_is_unauthorized_on_its_next_request(
    client: FlaskClient, tenant: TestTenant, runtime: Runtime
) -> None:
    revoked = Caller(client, tenant.auth("live", "server"))
    assert [revoked.get("/rewards").status_code for _ in range(3)] == [200] * 3  # cached

    with runtime.db.transaction() as session:
        revoke_key(session, prefix=prefix_of(tenant.key("live", "server")), redis=runtime.redis)

    assert_problem(revoked.get("/rewards"), 401, "unauthorized")
    assert_problem(revoked.credit(new_id(), 5), 401, "unauthorized")
    # The tenant's other keys are untouched.
    assert Caller(client, tenant.auth("live", "admin")).get("/rewards").status_code == 200
    assert Caller(client, tenant.auth("test", "server")).get("/rewards").status_code == 200


def test_an_unauthorized_request_changes_nothing_and_does_not_consume_its_key(
    client: FlaskClient, tenant: TestTenant, runtime: Runtime, admin: Caller
) -> None:
    nobody = Caller(client, {"Authorization": "Bearer ck_live_" + "B" * 43})
    participant, key = new_id(), new_id("key")

    assert_problem(nobody.post("/rewards", {"name": "x", "type": "coupon"}), 401, "unauthorized")
    assert_problem(nobody.credit(participant, 50, key=key), 401, "unauthorized")

    assert reward_rows(runtime, tenant) == 0
    assert requests_under_key(runtime, tenant, key) == 0
    fresh = admin.credit(participant, 50, key=key)
    assert fresh.status_code == 201
    assert "Idempotent-Replayed" not in fresh.headers
    assert fresh.json["balance"] == 50


def test_a_server_key_on_an_admin_endpoint_is_forbidden_and_changes_nothing(
    server: Caller, admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    reward = admin.create_reward(name="Untouchable")
    rid = reward["id"]

    assert_problem(server.post("/rewards", {"name": "x", "type": "coupon"}), 403, "forbidden")
    assert_problem(server.patch(f"/rewards/{rid}", {"name": "Hijacked"}), 403, "forbidden")
    assert_problem(server.delete(f"/rewards/{rid}"), 403, "forbidden")
    assert_problem(server.post(f"/rewards/{rid}/codes", {"codes": ["A"]}), 403, "forbidden")
    csv = server.post(f"/rewards/{rid}/codes", data="A\n", headers={"Content-Type": "text/csv"})
    assert_problem(csv, 403, "forbidden")

    assert reward_rows(runtime, tenant) == 1
    assert admin.reward(rid) == reward


def test_a_server_key_is_forbidden_even_with_an_invalid_body(server: Caller) -> None:
    # Scope is checked before the body, so a server key learns nothing from validation.
    assert_problem(server.post("/rewards", {"bogus": 1}), 403, "forbidden")
    assert_problem(server.post("/rewards", data=b"{not json"), 403, "forbidden")


def test_a_server_key_can_list_read_credit_and_read_points(server: Caller, admin: Caller) -> None:
    reward = admin.create_reward()
    participant = new_id()

    assert server.listed_ids() == {reward["id"]}
    admin_only = {"code_generation", "fulfillment", "multiplier"}  # CONTRACT §4: admin keys only
    shown = {k: v for k, v in admin.reward(reward["id"]).items() if k not in admin_only}
    assert server.reward(reward["id"]) == shown
    credited = server.credit(participant, 40)
    assert credited.status_code == 201
    assert credited.json["balance"] == 40
    assert server.balance(participant) == 40
    rewards = server.get(f"/participants/{participant}/rewards")
    assert rewards.status_code == 200
    assert rewards.json == {"participant_id": participant, "rewards": [], "total_claimed": 0}


def test_a_server_key_can_claim(server: Caller, admin: Caller) -> None:
    reward = admin.create_reward()

    response = server.claim(reward["id"], {"participant_id": new_id()}, key=new_id("key"))

    assert response.status_code == 202
    assert response.json["status"] == "pending"


def test_another_tenants_reward_is_not_found_never_forbidden(
    admin: Caller, other_admin: Caller, client: FlaskClient, other_tenant: TestTenant
) -> None:
    theirs = other_admin.create_reward(name="Theirs")
    other_admin.upload(theirs["id"], ["THEIR-1"])
    rid = theirs["id"]
    other_server = Caller(client, other_tenant.auth("live", "server"))

    assert_problem(admin.get(f"/rewards/{rid}"), 404, "reward_not_found")
    assert_problem(admin.patch(f"/rewards/{rid}", {"name": "Mine"}), 404, "reward_not_found")
    assert_problem(admin.delete(f"/rewards/{rid}"), 404, "reward_not_found")
    assert_problem(admin.post(f"/rewards/{rid}/codes", {"codes": ["X"]}), 404, "reward_not_found")
    claim = admin.claim(rid, {"participant_id": new_id()}, key=new_id("key"))
    assert_problem(claim, 404, "reward_not_found")
    assert rid not in admin.listed_ids()

    # The owner sees it unchanged.
    admin_only = ("code_generation", "fulfillment", "multiplier")  # CONTRACT §4
    public = {k: v for k, v in theirs.items() if k not in admin_only}
    assert other_server.reward(rid) == public | {"available_codes": 1}  # less admin members


def test_the_same_tenants_reward_is_not_found_with_a_test_mode_key(
    admin: Caller, test_admin: Caller, client: FlaskClient, tenant: TestTenant
) -> None:
    live = admin.create_reward()
    test_server = Caller(client, tenant.auth("test", "server"))

    assert_problem(test_admin.get(f"/rewards/{live['id']}"), 404, "reward_not_found")
    assert_problem(test_server.get(f"/rewards/{live['id']}"), 404, "reward_not_found")
    assert_problem(
        test_admin.patch(f"/rewards/{live['id']}", {"name": "x"}), 404, "reward_not_found"
    )
    assert_problem(test_admin.delete(f"/rewards/{live['id']}"), 404, "reward_not_found")
    assert_problem(
        test_admin.claim(live["id"], {"participant_id": "u"}, key=new_id("key")),
        404,
        "reward_not_found",
    )
    assert test_admin.listed_ids() == set()
    assert admin.reward(live["id"])["status"] == "active"


def test_each_mode_has_its_own_catalog(admin: Caller, test_admin: Caller) -> None:
    live = admin.create_reward(name="Live")
    test = test_admin.create_reward(name="Test")

    assert admin.listed_ids() == {live["id"]}
    assert test_admin.listed_ids() == {test["id"]}
    assert admin.get("/rewards").json["total"] == 1
    assert test_admin.get("/rewards").json["total"] == 1


def test_participants_are_separate_per_tenant_and_per_mode(
    admin: Caller, test_admin: Caller, other_admin: Caller
) -> None:
    participant = new_id()

    assert admin.credit(participant, 100).status_code == 201
    assert test_admin.credit(participant, 7).status_code == 201

    assert admin.balance(participant) == 100
    assert test_admin.balance(participant) == 7
    assert other_admin.balance(participant) == 0
    assert other_admin.get(f"/participants/{participant}/points").json["entries"] == []
    assert len(admin.get(f"/participants/{participant}/points").json["entries"]) == 1


def test_errors_leak_no_other_tenants_ids(admin: Caller, other_admin: Caller) -> None:
    theirs = other_admin.create_reward()

    problem = assert_problem(admin.get(f"/rewards/{theirs['id']}"), 404, "reward_not_found")

    text = str(problem)
    assert "ten_" not in text
    assert "Traceback" not in text
    assert "select" not in text.lower()
