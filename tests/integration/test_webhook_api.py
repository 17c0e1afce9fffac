"""The admin API for webhook endpoints, deliveries and /events, through the Flask app on PostgreSQL.

The session app runs with COFFER_WEBHOOK_ALLOW_PRIVATE off, so registration
applies the SSRF rule; the refused addresses are only resolved, never called.
"""

from __future__ import annotations

import base64

import pytest
from flask.testing import FlaskClient

from core.clock import utcnow
from core.facts import append, fact
from core.runtime import Runtime
from core.webhooks.dispatch import DeliveryPolicy, attempt
from tests.support.receiver import Answer, Receiver, new_delivery, register
from tests.support.tenants import TestTenant

G = "/api/v1/gamify"
PUBLIC_URL = "https://93.184.215.14/hooks"  # a global address: registration resolves, never calls


def _create(client: FlaskClient, tenant: TestTenant, **body: object) -> dict[str, object]:
    response = client.post(
        f"{G}/webhook-endpoints",
        json={"url": PUBLIC_URL, "event_types": ["*"], **body},
        headers=tenant.auth(),
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_an_endpoint_is_created_with_a_secret_shown_once(
    client: FlaskClient, tenant: TestTenant
) -> None:
    made = _create(client, tenant, description="fulfilment", event_types=["reward.reward_claimed"])
    secret = str(made["secret"])
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    assert str(made["id"]).startswith("whe_")
    assert made["enabled"] is True and made["disabled_reason"] is None
    shown = client.get(f"{G}/webhook-endpoints/{made['id']}", headers=tenant.auth()).get_json()
    assert "secret" not in shown
    assert shown == {k: v for k, v in made.items() if k != "secret"}
    listed = client.get(f"{G}/webhook-endpoints", headers=tenant.auth()).get_json()
    assert all("secret" not in e for e in listed["webhook_endpoints"])


def test_endpoints_are_listed_a_page_at_a_time(client: FlaskClient, tenant: TestTenant) -> None:
    ids = [_create(client, tenant)["id"] for _ in range(3)]
    first = client.get(f"{G}/webhook-endpoints?limit=2", headers=tenant.auth()).get_json()
    assert [e["id"] for e in first["webhook_endpoints"]] == ids[:2]
    cursor = first["next_cursor"]
    second = client.get(
        f"{G}/webhook-endpoints?limit=2&cursor={cursor}", headers=tenant.auth()
    ).get_json()
    assert [e["id"] for e in second["webhook_endpoints"]] == ids[2:]
    assert second["next_cursor"] is None
    bad = client.get(f"{G}/webhook-endpoints?cursor=nope", headers=tenant.auth())
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "cursor"


def test_an_endpoint_is_updated_disabled_and_enabled(
    client: FlaskClient, tenant: TestTenant
) -> None:
    made = _create(client, tenant)
    path = f"{G}/webhook-endpoints/{made['id']}"
    changed = client.patch(
        path,
        json={"event_types": ["reward.claim_reversed"], "description": "ops", "enabled": False},
        headers=tenant.auth(),
    ).get_json()
    assert changed["event_types"] == ["reward.claim_reversed"]
    assert changed["description"] == "ops"
    assert changed["enabled"] is False and changed["disabled_reason"] == "disabled by an admin"
    again = client.patch(path, json={"enabled": True}, headers=tenant.auth()).get_json()
    assert again["enabled"] is True and again["disabled_reason"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"url": None},
        {"enabled": "yes"},
        {"event_types": []},
        {"event_types": ["reward.nope"]},
        {"event_types": ["*", "*"]},
        {"secret": "whsec_x"},
    ],
)
def test_a_bad_update_is_400_and_changes_nothing(
    client: FlaskClient, tenant: TestTenant, body: dict[str, object]
) -> None:
    made = _create(client, tenant)
    path = f"{G}/webhook-endpoints/{made['id']}"
    response = client.patch(path, json=body, headers=tenant.auth())
    assert response.status_code == 400
    assert response.get_json()["code"] == "validation_error"
    assert client.get(path, headers=tenant.auth()).get_json()["event_types"] == ["*"]


def test_a_deleted_endpoint_is_gone(client: FlaskClient, tenant: TestTenant) -> None:
    made = _create(client, tenant)
    path = f"{G}/webhook-endpoints/{made['id']}"
    assert client.delete(path, headers=tenant.auth()).status_code == 204
    assert client.get(path, headers=tenant.auth()).status_code == 404
    assert client.delete(path, headers=tenant.auth()).status_code == 404


def test_rotating_gives_a_new_secret(client: FlaskClient, tenant: TestTenant) -> None:
    made = _create(client, tenant)
    response = client.post(
        f"{G}/webhook-endpoints/{made['id']}/rotate-secret", headers=tenant.auth()
    )
    assert response.status_code == 200
    rotated = response.get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != made["secret"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hooks",
        "http://10.0.0.1/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/hooks",
        "http://localhost:8080/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://0.0.0.0/hooks",
        "http://[fd00::1]/hooks",
        "http://192.168.1.10/hooks",
        "ftp://93.184.215.14/hooks",
        "https://user:pw@93.184.215.14/hooks",
        "not a url",
        "http:///hooks",
    ],
)
def test_urls_that_may_not_be_called_are_refused_naming_url(
    client: FlaskClient, tenant: TestTenant, url: str
) -> None:
    response = client.post(
        f"{G}/webhook-endpoints", json={"url": url, "event_types": ["*"]}, headers=tenant.auth()
    )
    assert response.status_code == 400
    problem = response.get_json()
    assert problem["code"] == "validation_error"
    assert [e["field"] for e in problem["errors"]] == ["url"]
    listed = client.get(f"{G}/webhook-endpoints", headers=tenant.auth()).get_json()
    assert listed["webhook_endpoints"] == []


def test_changing_the_url_to_a_private_one_is_refused(
    client: FlaskClient, tenant: TestTenant
) -> None:
    made = _create(client, tenant)
    path = f"{G}/webhook-endpoints/{made['id']}"
    response = client.patch(path, json={"url": "http://127.0.0.1/x"}, headers=tenant.auth())
    assert response.status_code == 400 and response.get_json()["errors"][0]["field"] == "url"
    assert client.get(path, headers=tenant.auth()).get_json()["url"] == PUBLIC_URL


def test_other_tenants_and_modes_see_404_and_server_keys_403(
    client: FlaskClient, tenant: TestTenant, other_tenant: TestTenant
) -> None:
    made = _create(client, tenant)
    path = f"{G}/webhook-endpoints/{made['id']}"
    for headers in (other_tenant.auth(), tenant.auth("test")):
        assert client.get(path, headers=headers).status_code == 404
        assert client.patch(path, json={"enabled": False}, headers=headers).status_code == 404
        assert client.post(f"{path}/rotate-secret", headers=headers).status_code == 404
        assert client.get(f"{path}/deliveries", headers=headers).status_code == 404
        assert client.delete(path, headers=headers).status_code == 404
    server = tenant.auth("live", "server")
    for method, target in [
        ("get", f"{G}/webhook-endpoints"),
        ("post", f"{G}/webhook-endpoints"),
        ("get", path),
        ("post", f"{path}/rotate-secret"),
        ("get", f"{path}/deliveries"),
        ("post", f"{G}/webhook-deliveries/whd_x/retry"),
        ("get", f"{G}/events"),
    ]:
        response = getattr(client, method)(target, headers=server)
        assert response.status_code == 403, (method, target)
        assert response.get_json()["code"] == "forbidden"
    assert client.get(path, headers=tenant.auth()).get_json()["enabled"] is True


def _facts(runtime: Runtime, tenant: TestTenant, types: list[str], mode: str = "live") -> list[str]:
    rows = [
        fact(tenant_id=tenant.id, mode=mode, type_=t, data={"n": i}, at=utcnow())  # type: ignore[arg-type]
        for i, t in enumerate(types)
    ]
    with runtime.db.transaction() as session:
        append(session, rows)
    return [row["event_id"] for row in rows]


def test_events_are_listed_oldest_first_a_page_at_a_time(
    client: FlaskClient, runtime: Runtime, tenant: TestTenant, other_tenant: TestTenant
) -> None:
    ids = _facts(runtime, tenant, ["reward.reward_claimed"] * 5)
    _facts(runtime, tenant, ["reward.reward_claimed"], mode="test")
    _facts(runtime, other_tenant, ["reward.reward_claimed"])
    seen: list[str] = []
    url = f"{G}/events?limit=2"
    while True:
        page = client.get(url, headers=tenant.auth()).get_json()
        seen += [e["id"] for e in page["events"]]
        if page["next_cursor"] is None:
            break
        url = f"{G}/events?limit=2&after={page['next_cursor']}"
    assert seen == ids
    first = client.get(f"{G}/events?limit=1", headers=tenant.auth()).get_json()["events"][0]
    assert set(first) == {"id", "type", "created_at", "data"} and first["data"] == {"n": 0}
    resumed = client.get(f"{G}/events?after={ids[2]}", headers=tenant.auth()).get_json()
    assert [e["id"] for e in resumed["events"]] == ids[3:]  # an event id resumes after it


def test_events_filter_by_type(client: FlaskClient, runtime: Runtime, tenant: TestTenant) -> None:
    ids = _facts(
        runtime, tenant, ["reward.reward_claimed", "reward.claim_reversed", "reward.reward_claimed"]
    )
    page = client.get(f"{G}/events?type=reward.reward_claimed", headers=tenant.auth()).get_json()
    assert [e["id"] for e in page["events"]] == [ids[0], ids[2]]
    other = client.get(f"{G}/events?type=reward.claim_reversed", headers=tenant.auth()).get_json()
    assert [e["id"] for e in other["events"]] == [ids[1]]


@pytest.mark.parametrize(
    "query",
    [
        "type=reward.nope",
        "limit=0",
        "limit=501",
        "limit=x",
        "after=bm9wZQ",
        "after=evt_00000000000000000000000000",
        "after=%00",
        "cursor=abc",
    ],
)
def test_bad_event_queries_are_400(client: FlaskClient, tenant: TestTenant, query: str) -> None:
    response = client.get(f"{G}/events?{query}", headers=tenant.auth())
    assert response.status_code == 400
    assert response.get_json()["code"] == "validation_error"


def test_an_event_of_another_tenant_is_not_a_cursor(
    client: FlaskClient, runtime: Runtime, tenant: TestTenant, other_tenant: TestTenant
) -> None:
    (theirs,) = _facts(runtime, other_tenant, ["reward.reward_claimed"])
    response = client.get(f"{G}/events?after={theirs}", headers=tenant.auth())
    assert response.status_code == 400


def test_deliveries_are_listed_with_their_attempts_and_a_failed_one_retried(
    client: FlaskClient, runtime: Runtime, tenant: TestTenant
) -> None:
    with Receiver() as receiver:
        # Registered through core: the API refuses 127.0.0.1 with private addresses off.
        endpoint_id = register(runtime.db, tenant, receiver.url, receiver)
        receiver.default = Answer(500)
        pk = new_delivery(runtime.db, tenant)
        policy = DeliveryPolicy(timeout_s=2, allow_private=True, schedule=(0,))
        attempt(runtime.db, delivery_pk=pk, policy=policy)
        attempt(runtime.db, delivery_pk=pk, policy=policy)
        path = f"{G}/webhook-endpoints/{endpoint_id}/deliveries"
        (shown,) = client.get(path, headers=tenant.auth()).get_json()["deliveries"]
        assert (
            shown["event_id"].startswith("evt_") and shown["event_type"] == "reward.reward_claimed"
        )
        assert shown["status"] == "failed" and shown["next_attempt_at"] is None
        assert [a["status_code"] for a in shown["attempts"]] == [500, 500]
        assert all(a["error"] == "HTTP 500" and a["duration_ms"] >= 0 for a in shown["attempts"])
        receiver.default = Answer(200)
        retried = client.post(f"{G}/webhook-deliveries/{shown['id']}/retry", headers=tenant.auth())
        assert retried.status_code == 200 and retried.get_json()["status"] == "pending"
        attempt(runtime.db, delivery_pk=pk, policy=policy)
        (after,) = client.get(path, headers=tenant.auth()).get_json()["deliveries"]
        assert after["status"] == "delivered" and len(after["attempts"]) == 3
        again = client.post(f"{G}/webhook-deliveries/{shown['id']}/retry", headers=tenant.auth())
        assert again.status_code == 409 and again.get_json()["code"] == "delivery_not_retryable"
        missing = client.post(f"{G}/webhook-deliveries/whd_nope/retry", headers=tenant.auth())
        assert missing.status_code == 404
