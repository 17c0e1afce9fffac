"""GET /events newest first (`order=desc`, paging backwards with `before`): an admin
extension, docs/api-extensions.md. The default stays CONTRACT §7's oldest first."""

from __future__ import annotations

from flask.testing import FlaskClient

from core.clock import utcnow
from core.facts import append, fact
from core.runtime import Runtime
from tests.api.conftest import Caller, assert_problem, error_fields
from tests.support.tenants import TestTenant


def facts(runtime: Runtime, tenant: TestTenant, types: list[str], mode: str = "live") -> list[str]:
    """Append facts in this order; their event ids, oldest first."""
    rows = [
        fact(tenant_id=tenant.id, mode=mode, type_=t, data={"n": i}, at=utcnow())  # type: ignore[arg-type]
        for i, t in enumerate(types)
    ]
    with runtime.db.transaction() as session:
        append(session, rows)
    return [row["event_id"] for row in rows]


def walk(admin: Caller, query: str, cursor_name: str) -> list[str]:
    seen: list[str] = []
    url = f"/events?{query}"
    while True:
        response = admin.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        page = response.json
        assert page is not None
        seen += [e["id"] for e in page["events"]]
        if page["next_cursor"] is None:
            return seen
        url = f"/events?{query}&{cursor_name}={page['next_cursor']}"


def test_order_desc_pages_from_the_newest_fact_back_to_the_oldest(
    admin: Caller, runtime: Runtime, tenant: TestTenant, other_tenant: TestTenant
) -> None:
    ids = facts(runtime, tenant, ["reward.reward_claimed"] * 5)
    facts(runtime, tenant, ["reward.reward_claimed"], mode="test")
    facts(runtime, other_tenant, ["reward.reward_claimed"])

    assert walk(admin, "order=desc&limit=2", "before") == ids[::-1]
    assert walk(admin, "limit=2", "after") == ids  # the default is unchanged


def test_the_first_desc_page_is_the_newest_facts(
    admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    ids = facts(runtime, tenant, ["reward.reward_claimed"] * 4)
    page = admin.get("/events?order=desc&limit=2").json
    assert page is not None
    assert [e["id"] for e in page["events"]] == [ids[3], ids[2]]
    assert page["next_cursor"] is not None
    assert set(page["events"][0]) == {"id", "type", "created_at", "data"}


def test_before_and_after_take_event_ids_and_bound_either_order(
    admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    ids = facts(runtime, tenant, ["reward.reward_claimed"] * 6)

    def listed(query: str) -> list[str]:
        page = admin.get(f"/events?{query}").json
        assert page is not None
        return [e["id"] for e in page["events"]]

    assert listed(f"order=desc&before={ids[3]}") == [ids[2], ids[1], ids[0]]
    assert listed(f"before={ids[3]}") == ids[:3]
    assert listed(f"order=desc&after={ids[1]}&before={ids[5]}") == [ids[4], ids[3], ids[2]]
    # "Anything new since I last looked?", newest first.
    assert listed(f"order=desc&after={ids[3]}") == [ids[5], ids[4]]


def test_order_desc_composes_with_the_type_filter(
    admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    ids = facts(
        runtime,
        tenant,
        ["reward.reward_claimed", "reward.claim_reversed", "reward.reward_claimed"] * 2,
    )
    claimed = [ids[0], ids[2], ids[3], ids[5]]
    assert walk(admin, "order=desc&type=reward.reward_claimed&limit=3", "before") == claimed[::-1]


def test_a_bad_before_cursor_or_order_is_a_validation_error_naming_it(
    admin: Caller, runtime: Runtime, tenant: TestTenant, other_tenant: TestTenant
) -> None:
    (foreign,) = facts(runtime, other_tenant, ["reward.reward_claimed"])
    assert error_fields(admin.get("/events?order=desc&before=nonsense")) == {"before"}
    assert error_fields(admin.get(f"/events?before={foreign}")) == {"before"}  # not this tenant's
    assert error_fields(admin.get("/events?order=newest")) == {"order"}


def test_a_server_key_is_still_forbidden(client: FlaskClient, tenant: TestTenant) -> None:
    server = Caller(client, tenant.auth("live", "server"))
    assert_problem(server.get("/events?order=desc"), 403, "forbidden")
