"""The catalog listing's `status` filter and reactivation (admin extensions,
docs/api-extensions.md): admins list every reward; server keys see exactly the contract's
listing and are refused any other status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.models import Reward
from core.runtime import Runtime
from tests.api.conftest import ENTRY_KEYS, Caller, assert_problem, error_fields


def wire(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


NOW = datetime.now(UTC)
NEXT_WEEK = wire(NOW + timedelta(days=7))
LAST_WEEK = wire(NOW - timedelta(days=7))
YESTERDAY = wire(NOW - timedelta(days=1))


@pytest.fixture
def one_of_each(admin: Caller) -> dict[str, str]:
    """A reward in each lifecycle status, by status."""
    active = admin.create_reward(name="Active")
    scheduled = admin.create_reward(name="Scheduled", starts_at=NEXT_WEEK)
    expired = admin.create_reward(name="Expired", starts_at=LAST_WEEK, expires_at=YESTERDAY)
    inactive = admin.create_reward(name="Inactive")
    assert admin.delete(f"/rewards/{inactive['id']}").status_code == 204
    return {
        "active": active["id"],
        "scheduled": scheduled["id"],
        "expired": expired["id"],
        "inactive": inactive["id"],
    }


@pytest.mark.parametrize("status", ["active", "scheduled", "expired", "inactive"])
def test_an_admin_lists_the_rewards_of_one_status_with_their_total(
    admin: Caller, one_of_each: dict[str, str], status: str
) -> None:
    page = admin.get(f"/rewards?status={status}").json
    assert page is not None
    assert [entry["id"] for entry in page["rewards"]] == [one_of_each[status]]
    assert page["rewards"][0]["status"] == status
    assert page["total"] == 1 and page["next_cursor"] is None


def test_status_all_lists_every_reward_in_creation_order_a_page_at_a_time(
    admin: Caller, one_of_each: dict[str, str]
) -> None:
    seen: list[str] = []
    cursor = ""
    while True:
        page = admin.get(f"/rewards?status=all&limit=3{cursor}").json
        assert page is not None and page["total"] == 4
        seen += [entry["id"] for entry in page["rewards"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == sorted(one_of_each.values())  # ids sort in creation order


def test_the_default_listing_is_still_active_rewards_only(
    admin: Caller, server: Caller, one_of_each: dict[str, str]
) -> None:
    for caller in (admin, server):
        page = caller.get("/rewards").json
        assert page is not None
        assert [entry["id"] for entry in page["rewards"]] == [one_of_each["active"]]
        assert page["total"] == 1


def test_status_composes_with_the_type_filter(admin: Caller) -> None:
    voucher = admin.create_reward(name="Old voucher", type="voucher")
    coupon = admin.create_reward(name="Old coupon", type="coupon")
    for reward in (voucher, coupon):
        assert admin.delete(f"/rewards/{reward['id']}").status_code == 204
    page = admin.get("/rewards?status=inactive&reward_type=voucher").json
    assert page is not None
    assert [entry["id"] for entry in page["rewards"]] == [voucher["id"]] and page["total"] == 1


@pytest.mark.parametrize("status", ["scheduled", "expired", "inactive", "all"])
def test_a_server_key_may_not_list_by_another_status(
    server: Caller, one_of_each: dict[str, str], status: str
) -> None:
    problem = assert_problem(server.get(f"/rewards?status={status}"), 403, "forbidden")
    assert "admin key" in problem["detail"]


def test_a_server_key_asking_for_active_gets_the_contract_listing_unchanged(
    server: Caller, one_of_each: dict[str, str]
) -> None:
    plain = server.get("/rewards")
    explicit = server.get("/rewards?status=active")
    assert explicit.status_code == 200
    assert explicit.json == plain.json
    assert list(explicit.json["rewards"][0]) == ENTRY_KEYS  # type: ignore[index]


def test_an_unknown_status_is_a_validation_error(admin: Caller) -> None:
    assert error_fields(admin.get("/rewards?status=deleted")) == {"status"}


def test_reactivating_a_deactivated_reward_lists_it_again_and_claims_work(
    admin: Caller, server: Caller, runtime: Runtime
) -> None:
    reward = admin.create_reward(name="Comeback")
    assert admin.delete(f"/rewards/{reward['id']}").status_code == 204
    assert reward["id"] not in admin.listed_ids()

    answer = admin.post(f"/rewards/{reward['id']}/activate")

    assert answer.status_code == 200
    assert answer.json == {**reward, "status": "active"}
    assert reward["id"] in server.listed_ids()
    assert admin.reward(reward["id"])["status"] == "active"
    with runtime.db.transaction() as session:
        row = session.get(Reward, reward["id"])
        assert row is not None and row.deactivated_at is None


def test_reactivating_an_expired_reward_shows_it_expired_not_active(admin: Caller) -> None:
    reward = admin.create_reward(starts_at=LAST_WEEK, expires_at=YESTERDAY)
    assert admin.delete(f"/rewards/{reward['id']}").status_code == 204
    assert admin.reward(reward["id"])["status"] == "inactive"
    answer = admin.post(f"/rewards/{reward['id']}/activate")
    assert answer.status_code == 200 and answer.json["status"] == "expired"  # type: ignore[index]


def test_activating_an_active_reward_changes_nothing(admin: Caller, runtime: Runtime) -> None:
    reward = admin.create_reward()
    with runtime.db.transaction() as session:
        before = session.get(Reward, reward["id"]).updated_at  # type: ignore[union-attr]
    answer = admin.post(f"/rewards/{reward['id']}/activate")
    assert answer.status_code == 200 and answer.json == reward
    with runtime.db.transaction() as session:
        assert session.get(Reward, reward["id"]).updated_at == before  # type: ignore[union-attr]


def test_only_an_admin_key_reactivates_and_only_its_own_rewards(
    admin: Caller, server: Caller, other_admin: Caller, test_admin: Caller
) -> None:
    reward = admin.create_reward()
    assert admin.delete(f"/rewards/{reward['id']}").status_code == 204
    assert_problem(server.post(f"/rewards/{reward['id']}/activate"), 403, "forbidden")
    for stranger in (other_admin, test_admin):  # another tenant, another mode: 404, not 403
        assert_problem(stranger.post(f"/rewards/{reward['id']}/activate"), 404, "reward_not_found")
    assert admin.reward(reward["id"])["status"] == "inactive"


def test_activating_an_unknown_reward_is_reward_not_found(admin: Caller) -> None:
    assert_problem(admin.post("/rewards/rwd_nosuchreward/activate"), 404, "reward_not_found")
