"""The catalog over HTTP: create, read, change, deactivate, and what the listing shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.runtime import Runtime
from core.schemas import RewardPage
from core.schemas.catalog import ADMIN_MEMBERS
from tests.api.conftest import ENTRY_KEYS, Caller, assert_problem, error_fields, reward_rows
from tests.support.tenants import TestTenant

# What admin keys see besides (CONTRACT §4): the definition's code_generation and multiplier.
ADMIN_ENTRY_KEYS = [*ENTRY_KEYS, *ADMIN_MEMBERS]


def wire(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


NOW = datetime.now(UTC)
TOMORROW = wire(NOW + timedelta(days=1))
NEXT_WEEK = wire(NOW + timedelta(days=7))
LAST_WEEK = wire(NOW - timedelta(days=7))
YESTERDAY = wire(NOW - timedelta(days=1))
NOW_ISO = wire(NOW)


def test_a_created_reward_is_exactly_the_contract_entry_with_its_defaults(admin: Caller) -> None:
    response = admin.post("/rewards", {"name": "10% Off Coupon", "type": "coupon"})

    assert response.status_code == 201
    entry = response.json
    assert list(entry) == ADMIN_ENTRY_KEYS
    assert entry["id"].startswith("rwd_")
    assert response.headers["Location"] == f"/api/v1/gamify/rewards/{entry['id']}"
    assert entry == {
        "id": entry["id"],
        "name": "10% Off Coupon",
        "type": "coupon",
        "description": None,
        "points_cost": None,
        "available_codes": 0,
        "max_claims_per_user": 1,
        "expires_at": None,
        "starts_at": None,
        "code_expiry_days": None,
        "low_stock_threshold": None,
        "status": "active",
        "created_at": entry["created_at"],
        "code_generation": None,
        "multiplier": None,
        "fulfillment": None,
    }
    assert entry["created_at"].endswith("Z") and len(entry["created_at"]) == 20


def test_every_definition_field_round_trips_through_create_and_read(admin: Caller) -> None:
    created = admin.create_reward(
        name="Gift card",
        type="voucher",
        description="A 20 EUR voucher",
        points_cost=500,
        max_claims_per_user=3,
        starts_at=LAST_WEEK,
        expires_at=NEXT_WEEK,
        code_expiry_days=30,
        low_stock_threshold=10,
    )

    read = admin.reward(created["id"])
    assert read == created
    assert read["points_cost"] == 500
    assert read["max_claims_per_user"] == 3
    assert (read["starts_at"], read["expires_at"]) == (LAST_WEEK, NEXT_WEEK)
    assert (read["code_expiry_days"], read["low_stock_threshold"]) == (30, 10)
    assert read["status"] == "active"


def test_timestamps_with_an_offset_are_stored_and_shown_in_utc(admin: Caller) -> None:
    created = admin.create_reward(expires_at="2099-06-01T14:30:00+02:00")

    assert created["expires_at"] == "2099-06-01T12:30:00Z"


def test_every_reward_type_can_be_created(admin: Caller) -> None:
    for reward_type in ("coupon", "voucher", "physical", "digital"):
        assert admin.create_reward(type=reward_type)["type"] == reward_type
    multiplier = {"factor": 2, "duration_days": 7}  # required for this type (CONTRACT §7)
    created = admin.create_reward(type="points_multiplier", multiplier=multiplier)
    assert created["type"] == "points_multiplier"


def test_a_scheduled_reward_is_not_listed_but_reads_as_scheduled(admin: Caller) -> None:
    scheduled = admin.create_reward(starts_at=TOMORROW)
    active = admin.create_reward()

    assert admin.listed_ids() == {active["id"]}
    assert admin.reward(scheduled["id"])["status"] == "scheduled"


def test_an_expired_reward_is_not_listed_but_reads_as_expired(admin: Caller) -> None:
    expired = admin.create_reward(starts_at=LAST_WEEK, expires_at=YESTERDAY)
    active = admin.create_reward(expires_at=NEXT_WEEK)

    assert admin.listed_ids() == {active["id"]}
    assert admin.reward(expired["id"])["status"] == "expired"


def test_a_deactivated_reward_is_not_listed_but_still_readable(admin: Caller) -> None:
    reward = admin.create_reward(name="Soon gone")
    kept = admin.create_reward(name="Kept")

    response = admin.delete(f"/rewards/{reward['id']}")

    assert response.status_code == 204
    assert response.get_data() == b""
    assert admin.listed_ids() == {kept["id"]}
    read = admin.reward(reward["id"])
    assert read["status"] == "inactive"
    assert read["name"] == "Soon gone"


def test_deactivating_twice_is_harmless_and_deactivation_wins_over_expiry(admin: Caller) -> None:
    reward = admin.create_reward(starts_at=LAST_WEEK, expires_at=YESTERDAY)

    assert admin.delete(f"/rewards/{reward['id']}").status_code == 204
    assert admin.delete(f"/rewards/{reward['id']}").status_code == 204
    assert admin.reward(reward["id"])["status"] == "inactive"


def test_a_reward_whose_start_has_passed_is_listed_as_active(admin: Caller) -> None:
    started = admin.create_reward(starts_at=YESTERDAY, expires_at=TOMORROW)

    assert admin.listed_ids() == {started["id"]}
    assert admin.reward(started["id"])["status"] == "active"


def test_reward_type_filters_the_listing_and_its_total(admin: Caller) -> None:
    coupons = {admin.create_reward(type="coupon")["id"] for _ in range(3)}
    voucher = admin.create_reward(type="voucher")["id"]
    admin.create_reward(type="coupon", starts_at=TOMORROW)  # a coupon, but not listed

    response = admin.get("/rewards?reward_type=coupon")

    assert response.status_code == 200
    assert {entry["id"] for entry in response.json["rewards"]} == coupons
    assert {entry["type"] for entry in response.json["rewards"]} == {"coupon"}
    assert response.json["total"] == 3
    assert admin.listed_ids("&reward_type=voucher") == {voucher}
    assert admin.listed_ids("&reward_type=physical") == set()


def test_listing_entries_have_exactly_the_contract_keys(admin: Caller) -> None:
    admin.create_reward()
    admin.create_reward(code_generation={"prefix": "GEN-", "length": 8})

    response = admin.get("/rewards")

    assert list(response.json) == list(RewardPage.model_fields)
    assert len(response.json["rewards"]) == 2
    for entry in response.json["rewards"]:
        assert list(entry) == ADMIN_ENTRY_KEYS


def test_cursor_pagination_visits_every_listed_reward_once_and_total_counts_all(
    admin: Caller,
) -> None:
    created = [admin.create_reward(name=f"Reward {n}")["id"] for n in range(7)]
    admin.create_reward(starts_at=TOMORROW)  # not listed, so not counted

    seen: list[str] = []
    pages = 0
    cursor = None
    while True:
        query = "/rewards?limit=3" + (f"&cursor={cursor}" if cursor else "")
        response = admin.get(query)
        assert response.status_code == 200
        page = response.json
        assert page["total"] == 7  # every match, not just this page
        assert len(page["rewards"]) <= 3
        seen.extend(entry["id"] for entry in page["rewards"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert seen == created  # creation order: a cursor never skips or repeats a reward


def test_the_last_full_page_has_no_next_cursor(admin: Caller) -> None:
    for _ in range(2):
        admin.create_reward()

    response = admin.get("/rewards?limit=2")

    assert len(response.json["rewards"]) == 2
    assert response.json["next_cursor"] is None


def test_cursor_pagination_composes_with_the_type_filter(admin: Caller) -> None:
    digital = {admin.create_reward(type="digital")["id"] for _ in range(3)}
    for _ in range(3):
        admin.create_reward(type="physical")

    first = admin.get("/rewards?reward_type=digital&limit=2").json
    second = admin.get(f"/rewards?reward_type=digital&limit=2&cursor={first['next_cursor']}").json

    assert first["total"] == second["total"] == 3
    assert {e["id"] for e in first["rewards"] + second["rewards"]} == digital
    assert second["next_cursor"] is None


def test_available_codes_counts_uploaded_codes_and_is_null_for_generated_codes(
    admin: Caller,
) -> None:
    stocked = admin.create_reward()
    generated = admin.create_reward(code_generation={"prefix": "SAVE10-", "length": 8})
    admin.upload(stocked["id"], ["A-1", "A-2", "A-3"])
    admin.upload(generated["id"], ["G-1"])

    assert admin.reward(stocked["id"])["available_codes"] == 3
    assert admin.reward(generated["id"])["available_codes"] is None
    listed = {entry["id"]: entry for entry in admin.get("/rewards").json["rewards"]}
    assert listed[stocked["id"]]["available_codes"] == 3
    assert listed[generated["id"]]["available_codes"] is None


def test_patch_changes_only_the_fields_given(admin: Caller) -> None:
    reward = admin.create_reward(name="Old", description="keep me", points_cost=100)

    response = admin.patch(f"/rewards/{reward['id']}", {"name": "New", "points_cost": 250})

    assert response.status_code == 200
    changed = response.json
    assert list(changed) == ADMIN_ENTRY_KEYS
    assert (changed["name"], changed["points_cost"]) == ("New", 250)
    assert changed["description"] == "keep me"
    assert changed["created_at"] == reward["created_at"]
    assert admin.reward(reward["id"]) == changed


def test_patch_with_null_clears_a_nullable_field(admin: Caller) -> None:
    reward = admin.create_reward(points_cost=100, expires_at=NEXT_WEEK, description="x")

    changed = admin.patch(
        f"/rewards/{reward['id']}", {"points_cost": None, "expires_at": None, "description": None}
    ).json

    assert (changed["points_cost"], changed["expires_at"], changed["description"]) == (
        None,
        None,
        None,
    )


def test_patch_can_schedule_and_unschedule_a_reward(admin: Caller) -> None:
    reward = admin.create_reward()

    assert admin.patch(f"/rewards/{reward['id']}", {"starts_at": TOMORROW}).json["status"] == (
        "scheduled"
    )
    assert reward["id"] not in admin.listed_ids()
    assert admin.patch(f"/rewards/{reward['id']}", {"starts_at": None}).json["status"] == "active"
    assert reward["id"] in admin.listed_ids()


def test_patching_code_generation_switches_available_codes_to_null_and_back(
    admin: Caller,
) -> None:
    reward = admin.create_reward()
    admin.upload(reward["id"], ["C-1", "C-2"])

    generating = admin.patch(
        f"/rewards/{reward['id']}", {"code_generation": {"prefix": "X-", "length": 6}}
    ).json
    capped = admin.patch(f"/rewards/{reward['id']}", {"code_generation": None}).json

    assert generating["available_codes"] is None
    assert capped["available_codes"] == 2


def test_patch_that_would_end_a_reward_before_it_starts_is_refused_and_changes_nothing(
    admin: Caller,
) -> None:
    reward = admin.create_reward(starts_at=TOMORROW)

    response = admin.patch(f"/rewards/{reward['id']}", {"name": "Renamed", "expires_at": NOW_ISO})

    assert error_fields(response) == {"expires_at"}
    assert admin.reward(reward["id"]) == reward


def test_a_required_field_cannot_be_patched_to_null(admin: Caller) -> None:
    reward = admin.create_reward()

    for field in ("name", "type", "max_claims_per_user"):
        response = admin.patch(f"/rewards/{reward['id']}", {field: None})
        assert error_fields(response) == {field}
    assert admin.reward(reward["id"]) == reward


def test_an_empty_patch_changes_nothing(admin: Caller) -> None:
    reward = admin.create_reward(description="same")

    response = admin.patch(f"/rewards/{reward['id']}", {})

    assert response.status_code == 200
    assert response.json == reward


def test_unknown_reward_ids_are_reward_not_found_for_every_verb(
    admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    missing = "rwd_00000000000000000000000000"

    assert_problem(admin.get(f"/rewards/{missing}"), 404, "reward_not_found")
    assert_problem(admin.patch(f"/rewards/{missing}", {"name": "x"}), 404, "reward_not_found")
    assert_problem(admin.delete(f"/rewards/{missing}"), 404, "reward_not_found")
    assert_problem(
        admin.post(f"/rewards/{missing}/codes", {"codes": ["A"]}), 404, "reward_not_found"
    )
    assert reward_rows(runtime, tenant) == 0


def test_a_reward_id_holding_a_nul_character_is_not_found_rather_than_an_error(
    admin: Caller,
) -> None:
    # No id holds NUL (PostgreSQL refuses it in a query); the API answers before asking.
    assert_problem(admin.get("/rewards/rwd_%00"), 404, "not_found")
    assert_problem(admin.patch("/rewards/%00", {"name": "x"}), 404, "not_found")
    assert_problem(admin.delete("/rewards/%00"), 404, "not_found")


def test_a_cursor_coffer_did_not_issue_is_a_validation_error(admin: Caller) -> None:
    admin.create_reward()

    for cursor in ("AA", "!!!", "bm90LWEtcmV3YXJk", "%00"):
        assert error_fields(admin.get(f"/rewards?cursor={cursor}")) == {"cursor"}


def test_limit_must_be_an_integer_from_1_to_200(admin: Caller) -> None:
    for limit in ("0", "201", "-1", "abc", "1.5", "%C2%B2", ""):
        assert error_fields(admin.get(f"/rewards?limit={limit}")) == {"limit"}
    assert admin.get("/rewards?limit=200").status_code == 200


def test_an_unknown_reward_type_filter_is_a_validation_error(admin: Caller) -> None:
    assert error_fields(admin.get("/rewards?reward_type=coupons")) == {"reward_type"}


def test_a_listing_without_a_limit_returns_pages_of_fifty(admin: Caller) -> None:
    created = [admin.create_reward(name=f"R{n}")["id"] for n in range(51)]

    first = admin.get("/rewards").json
    rest = admin.get(f"/rewards?cursor={first['next_cursor']}").json

    assert len(first["rewards"]) == 50
    assert first["total"] == rest["total"] == 51
    assert [e["id"] for e in first["rewards"] + rest["rewards"]] == created
    assert rest["next_cursor"] is None
