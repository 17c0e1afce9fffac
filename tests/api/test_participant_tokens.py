"""Participant tokens (CONTRACT §10): issued by a server key, reading one participant only."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from core.claims.drain import Drain
from core.runtime import Runtime, build_runtime
from core.settings import Settings
from core.tenants import Principal, revoke_key
from core.tokens import issue_token, signing_key
from core.tokens_revocation import key_ids_with_prefix
from tests.api.conftest import GAMIFY, Caller, assert_problem, error_fields, ledger_sum, new_id
from tests.support.tenants import TestTenant, make_tenant

SHOP = "https://shop.example.com"


def issue(caller: Caller, participant: str, body: Any = None) -> str:
    response = caller.post(f"/participants/{participant}/tokens", body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json["token"]  # type: ignore[index,no-any-return]


def as_token(client: FlaskClient, token: str, **headers: str) -> Caller:
    return Caller(client, {"Authorization": f"Bearer {token}", **headers})


@pytest.fixture
def participant() -> str:
    return new_id("shopper")


# Issuing.


def test_a_server_key_issues_a_token_expiring_after_the_default_hour(
    server: Caller, participant: str
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    response = server.post(f"/participants/{participant}/tokens")

    assert response.status_code == 201, response.get_data(as_text=True)
    assert list(response.json) == ["token", "expires_at"]  # type: ignore[arg-type]
    assert response.json["token"].startswith("cpt_")  # type: ignore[index]
    assert response.headers["Cache-Control"] == "no-store"
    expires_at = datetime.fromisoformat(response.json["expires_at"])  # type: ignore[index]
    assert before + timedelta(seconds=3600) <= expires_at <= before + timedelta(seconds=3602)


def test_an_admin_key_issues_a_token_with_the_ttl_asked_for(
    admin: Caller, participant: str
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    response = admin.post(f"/participants/{participant}/tokens", {"ttl_seconds": 60})

    assert response.status_code == 201
    expires_at = datetime.fromisoformat(response.json["expires_at"])  # type: ignore[index]
    assert before + timedelta(seconds=60) <= expires_at <= before + timedelta(seconds=62)


@pytest.mark.parametrize(
    "body", [{"ttl_seconds": 59}, {"ttl_seconds": 86_401}, {"ttl_seconds": "600"},
             {"ttl_seconds": 600.5}, {"ttl_seconds": None}],
)  # fmt: skip
def test_a_ttl_outside_60_to_86400_whole_seconds_is_a_validation_error(
    server: Caller, participant: str, body: dict[str, Any]
) -> None:
    response = server.post(f"/participants/{participant}/tokens", body)

    assert error_fields(response) == {"ttl_seconds"}


def test_an_unknown_member_or_a_bad_participant_id_is_a_validation_error(server: Caller) -> None:
    unknown = server.post("/participants/p1/tokens", {"ttl_seconds": 60, "scope": "admin"})
    control = server.post("/participants/bad%07id/tokens", {"ttl_seconds": 60})

    assert error_fields(unknown) == {"scope"}
    assert_problem(control, 400, "validation_error")


def test_issuing_needs_a_key(client: FlaskClient, participant: str) -> None:
    response = client.post(f"{GAMIFY}/participants/{participant}/tokens", json={})

    assert_problem(response, 401, "unauthorized")


# Reading with a token.


def test_a_token_reads_its_participants_rewards_and_points_as_the_server_key_does(
    client: FlaskClient,
    runtime: Runtime,
    admin: Caller,
    server: Caller,
    participant: str,
) -> None:
    reward = admin.create_reward(code_generation={"prefix": "TOK-", "length": 8})
    assert server.credit(participant, 250).status_code == 201
    claimed = server.claim(reward["id"], {"participant_id": participant}, key=new_id())
    assert claimed.status_code == 202, claimed.get_data(as_text=True)
    Drain(runtime.db, runtime.publisher, batch_size=100).run()  # the worker's part, in-process
    browser = as_token(client, issue(server, participant))

    rewards = browser.get(f"/participants/{participant}/rewards")
    points = browser.get(f"/participants/{participant}/points")

    assert rewards.status_code == 200 and points.status_code == 200
    assert rewards.json == server.get(f"/participants/{participant}/rewards").json
    assert points.json == server.get(f"/participants/{participant}/points").json
    assert rewards.json["rewards"][0]["code_value"].startswith("TOK-")  # type: ignore[index]
    assert points.json["balance"] == 250  # type: ignore[index]


def test_a_token_for_a_participant_id_with_a_slash_reads_that_participant(
    client: FlaskClient, server: Caller
) -> None:
    participant = f"acct/{new_id()}"
    assert server.credit(participant, 5).status_code == 201
    browser = as_token(client, issue(server, participant))

    assert browser.get(f"/participants/{participant}/points").json["balance"] == 5  # type: ignore[index]


def test_a_token_sees_only_its_own_mode(
    client: FlaskClient, tenant: TestTenant, server: Caller, participant: str
) -> None:
    test_server = Caller(client, tenant.auth("test", "server"))
    assert server.credit(participant, 40).status_code == 201  # live
    browser = as_token(client, issue(test_server, participant))

    assert browser.get(f"/participants/{participant}/points").json["balance"] == 0  # type: ignore[index]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/participants/{other}/rewards"),
        ("GET", "/participants/{other}/points"),
        ("POST", "/participants/{pid}/points"),
        ("POST", "/participants/{pid}/tokens"),
        ("GET", "/rewards"),
        ("GET", "/rewards/{reward}"),
        ("POST", "/rewards/{reward}/claim"),
        ("GET", "/claims/clm_01jd3x8k2m9q4r7t5v6w8y0z1a"),
        ("GET", "/events"),
        ("POST", "/rewards"),
    ],
)
def test_a_token_anywhere_else_is_forbidden_and_changes_nothing(
    client: FlaskClient,
    runtime: Runtime,
    tenant: TestTenant,
    admin: Caller,
    server: Caller,
    participant: str,
    method: str,
    path: str,
) -> None:
    reward = admin.create_reward(code_generation={"prefix": "X-", "length": 8})
    assert server.credit(participant, 100).status_code == 201
    browser = as_token(client, issue(server, participant), **{"Idempotency-Key": new_id()})
    url = path.format(other=new_id("other"), pid=participant, reward=reward["id"])
    body = {"participant_id": participant, "amount": 5, "name": "x", "type": "coupon"}

    response = browser.get(url) if method == "GET" else browser.post(url, body)

    assert_problem(response, 403, "forbidden")
    assert ledger_sum(runtime, tenant, participant) == 100
    assert server.get(f"/participants/{participant}/rewards").json["total_claimed"] == 0  # type: ignore[index]


def test_an_expired_token_is_unauthorized(
    client: FlaskClient, runtime: Runtime, tenant: TestTenant, participant: str
) -> None:
    key_id = key_ids_with_prefix(runtime.db, tenant.key("live", "server")[:16])[0]
    principal = Principal(key_id=key_id, tenant_id=tenant.id, mode="live", scope="server")
    expired = issue_token(
        signing_key=signing_key(runtime), principal=principal, participant_id=participant,
        ttl_seconds=60, now=datetime.now(UTC) - timedelta(seconds=61),
    )  # fmt: skip

    response = as_token(client, expired.token).get(f"/participants/{participant}/points")

    problem = assert_problem(response, 401, "unauthorized")
    assert "expired" in problem["detail"]


def _resigned_payload(token: str, **changes: Any) -> str:
    """The token with its claims changed but its signature kept: a forgery."""
    header, payload, signature = token.removeprefix("cpt_").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, **changes}).encode()).rstrip(b"=")
    return f"cpt_{header}.{forged.decode()}.{signature}"


def test_a_tampered_token_is_unauthorized(
    client: FlaskClient, server: Caller, participant: str
) -> None:
    token = issue(server, participant)
    other = new_id("victim")
    forged = _resigned_payload(token, sub=other)
    unsigned = "cpt_" + ".".join([*token.removeprefix("cpt_").split(".")[:2], ""])

    for bad in (forged, unsigned, token[:-3] + "AAA", "cpt_", "cpt_not.a.token"):
        response = as_token(client, bad).get(f"/participants/{other}/points")
        assert_problem(response, 401, "unauthorized")


def test_a_token_stops_working_once_its_key_is_revoked(
    client: FlaskClient, runtime: Runtime, participant: str
) -> None:
    own = make_tenant(runtime.db)  # its key is revoked: a tenant of its own
    server = Caller(client, own.auth("live", "server"))
    browser = as_token(client, issue(server, participant))
    assert browser.get(f"/participants/{participant}/points").status_code == 200
    prefix = own.key("live", "server")[:16]

    with runtime.db.transaction() as session:
        revocation = revoke_key(session, prefix=prefix, redis=runtime.redis)
    assert revocation.announced

    assert_problem(browser.get(f"/participants/{participant}/points"), 401, "unauthorized")


# Origins and CORS: an app with COFFER_CORS_ORIGINS set.


@pytest.fixture(scope="module")
def shop_app(settings: Settings) -> Iterator[Flask]:
    runtime = build_runtime(
        Settings(**{**settings.model_dump(), "cors_origins": (SHOP,)}, _env_file=None)  # type: ignore[call-arg]
    )
    yield create_app(runtime)
    runtime.close()


def test_a_token_from_a_foreign_origin_is_forbidden(
    client: FlaskClient, shop_app: Flask, server: Caller, participant: str
) -> None:
    token = issue(server, participant)
    path = f"{GAMIFY}/participants/{participant}/points"
    auth = {"Authorization": f"Bearer {token}"}

    foreign = shop_app.test_client().get(path, headers={**auth, "Origin": "https://evil.example"})
    lookalike = shop_app.test_client().get(path, headers={**auth, "Origin": SHOP + ".evil.net"})
    allowed = shop_app.test_client().get(path, headers={**auth, "Origin": SHOP})
    unlisted = client.get(path, headers={**auth, "Origin": SHOP})  # no origins configured

    assert_problem(foreign, 403, "forbidden")
    assert_problem(lookalike, 403, "forbidden")
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == SHOP
    assert_problem(unlisted, 403, "forbidden")
    assert "Access-Control-Allow-Origin" not in unlisted.headers


def test_the_preflight_of_a_participant_read_is_answered_for_listed_origins_only(
    shop_app: Flask,
) -> None:
    asks = {"Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"}  # fmt: skip
    browser = shop_app.test_client()

    for read in ("rewards", "points"):
        path = f"{GAMIFY}/participants/a%2Fb/{read}"
        ok = browser.options(path, headers={**asks, "Origin": SHOP})
        foreign = browser.options(path, headers={**asks, "Origin": "https://evil.example"})
        assert ok.status_code == 200
        assert ok.headers["Access-Control-Allow-Origin"] == SHOP
        assert "GET" in ok.headers["Access-Control-Allow-Methods"]
        assert "POST" not in ok.headers["Access-Control-Allow-Methods"]
        assert "authorization" in ok.headers["Access-Control-Allow-Headers"].lower()
        assert "Origin" in ok.headers["Vary"]
        assert "Access-Control-Allow-Origin" not in foreign.headers
    tokens = browser.options(
        f"{GAMIFY}/participants/p/tokens",
        headers={**asks, "Access-Control-Request-Method": "POST", "Origin": SHOP},
    )
    assert "Access-Control-Allow-Origin" not in tokens.headers


def test_a_401_to_a_listed_origin_is_readable_by_the_browser(shop_app: Flask) -> None:
    response = shop_app.test_client().get(
        f"{GAMIFY}/participants/p/rewards",
        headers={"Authorization": "Bearer cpt_expired.or.forged", "Origin": SHOP},
    )

    assert_problem(response, 401, "unauthorized")
    assert response.headers["Access-Control-Allow-Origin"] == SHOP  # so it can renew its token
