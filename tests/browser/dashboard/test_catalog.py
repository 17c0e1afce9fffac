"""Catalog: create a reward from the form, upload 10,000 codes from a file with a progress
bar, see the stock and its low-stock warning, edit and deactivate; a wrong field gets the
API's own message next to it and nothing is created."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support import browser as chromium
from tests.support.client import Api


def rewards_named(api: Api, name: str) -> list[dict[str, object]]:
    listed = api.get("/rewards", params={"limit": 200}).json()["rewards"]
    return [reward for reward in listed if reward["name"] == name]


def test_create_a_reward_and_upload_10000_codes_from_a_file(
    signed_in: Page, api: Api, tmp_path: Path
) -> None:
    page = signed_in
    expect(page.get_by_text("No active rewards yet")).to_be_visible()  # the empty state
    page.get_by_role("button", name="New reward").click()
    form = page.locator("form", has=page.get_by_role("heading", name="New reward"))
    form.get_by_label("Name").fill("Free Coffee")
    form.get_by_label("Type").select_option("voucher")
    form.get_by_label("Description").fill("A coffee at any store")
    form.get_by_label("Points cost").fill("250")
    form.get_by_label("Low-stock warning below").fill("20000")
    chromium.shoot(page, "catalog-new-reward")
    form.get_by_role("button", name="Create reward").click()
    expect(page.get_by_role("status")).to_contain_text("Created “Free Coffee”")

    [created] = rewards_named(api, "Free Coffee")
    assert (created["type"], created["points_cost"], created["low_stock_threshold"]) == (
        "voucher", 250, 20000,
    )  # fmt: skip
    row = page.locator(f'tr[data-reward-id="{created["id"]}"]')
    expect(row).to_contain_text("Voucher")
    expect(row).to_contain_text("Out of stock")

    codes = tmp_path / "codes.csv"
    codes.write_text("code\n" + "".join(f"COFFEE-{n:05d}\n" for n in range(10_000)))
    row.get_by_role("button", name="Upload codes").click()
    page.get_by_label("Codes file").set_input_files(codes)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator(".upload-result")).to_have_text(
        "Added 10,000 codes, 0 duplicates. ", timeout=60_000
    )
    expect(page.locator("progress")).to_have_attribute("value", "10000")
    expect(page.get_by_text("Uploaded 10,000 of 10,000 codes (100%)")).to_be_visible()
    expect(row.locator(".stock-count")).to_have_text("10,000")
    expect(row).to_contain_text("Low stock")  # 10,000 is below the 20,000 threshold
    chromium.shoot(page, "catalog")
    assert api.get(f"/rewards/{created['id']}").json()["available_codes"] == 10_000

    # The same file again: every code is a duplicate, the stock is unchanged.
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator(".upload-result")).to_have_text(
        "Added 0 codes, 10,000 duplicates. ", timeout=60_000
    )
    assert api.get(f"/rewards/{created['id']}").json()["available_codes"] == 10_000

    # One new code and one duplicate: singular words ("1 duplicates" once).
    codes.write_text("COFFEE-00000\nCOFFEE-NEW\n")
    page.get_by_label("Codes file").set_input_files(codes)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator(".upload-result")).to_have_text("Added 1 code, 1 duplicate. ")
    assert api.get(f"/rewards/{created['id']}").json()["available_codes"] == 10_001


def test_a_wrong_field_shows_the_api_message_next_to_it_and_creates_nothing(
    signed_in: Page, api: Api
) -> None:
    page = signed_in
    page.get_by_role("button", name="New reward").click()
    form = page.locator("form", has=page.get_by_role("heading", name="New reward"))
    form.get_by_label("Name").fill("Bad Reward")
    form.get_by_label("Points cost").fill("0")
    form.get_by_label("Claims per participant").fill("lots")
    form.get_by_role("button", name="Create reward").click()

    cost = form.get_by_label("Points cost")
    expect(cost).to_have_attribute("aria-invalid", "true")
    cost_error = form.locator('[data-error-for="points_cost"]')
    expect(cost_error).to_contain_text("greater than or equal to 1")
    expect(form.locator('[data-error-for="max_claims_per_user"]')).to_contain_text("integer")
    expect(form.locator('[data-error-for="name"]')).to_be_hidden()
    assert cost.get_attribute("aria-describedby").endswith(cost_error.get_attribute("id"))
    expect(form.get_by_role("alert")).not_to_contain_text("{")  # detail in words, no raw JSON
    chromium.shoot(page, "catalog-validation")
    assert rewards_named(api, "Bad Reward") == []

    # Fixed, the same form creates it and the messages go.
    cost.fill("5")
    form.get_by_label("Claims per participant").fill("2")
    form.get_by_role("button", name="Create reward").click()
    expect(page.get_by_role("status")).to_contain_text("Created “Bad Reward”")
    [made] = rewards_named(api, "Bad Reward")
    assert (made["points_cost"], made["max_claims_per_user"]) == (5, 2)


def test_edit_then_deactivate_a_reward(signed_in: Page, api: Api) -> None:
    reward = api.create_reward(name="Old Name", points_cost=10)
    page = signed_in
    page.reload()
    row = page.locator(f'tr[data-reward-id="{reward["id"]}"]')
    row.get_by_role("button", name="Edit").click()
    form = page.locator("form", has=page.get_by_role("heading", name="Edit “Old Name”"))
    form.get_by_label("Name").fill("New Name")
    form.get_by_label("Points cost").fill("")  # blank = free: the PATCH sends null
    form.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Saved “New Name”")
    changed = api.get(f"/rewards/{reward['id']}").json()
    assert (changed["name"], changed["points_cost"]) == ("New Name", None)
    expect(row).to_contain_text("Free")

    row.get_by_role("button", name="Deactivate").click()
    page.get_by_role("dialog").get_by_role("button", name="Deactivate").click()
    expect(page.get_by_role("status")).to_contain_text("Deactivated “New Name”")
    expect(page.locator(f'tr[data-reward-id="{reward["id"]}"]')).to_have_count(0)
    assert api.get(f"/rewards/{reward['id']}").json()["status"] == "inactive"

    # Still reachable by id, shown as inactive.
    page.get_by_label("Open a reward by id").fill(reward["id"])
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.locator("form").get_by_text("Inactive")).to_be_visible()


def test_the_status_filter_lists_every_reward_and_reactivates_an_inactive_one(
    signed_in: Page, api: Api
) -> None:
    active = api.create_reward(name="On Sale")
    scheduled = api.create_reward(name="Next Month", starts_at="2099-01-01T00:00:00Z")
    retired = api.create_reward(name="Retired")
    assert api.session.delete(api.url(f"/rewards/{retired['id']}"), timeout=30).status_code == 204
    page = signed_in
    page.reload()
    rows = page.get_by_role("table", name="Rewards").locator("tbody tr")
    expect(rows).to_have_count(1)  # active ones by default, as the contract lists them
    expect(page.locator(".count")).to_have_text("1 active reward")

    status = page.get_by_label("Status")
    status.select_option("scheduled")
    expect(rows).to_have_count(1)
    expect(page.locator(f'tr[data-reward-id="{scheduled["id"]}"]')).to_contain_text("Scheduled")
    status.select_option("all")
    expect(page.locator(".count")).to_have_text("3 rewards")
    expect(rows).to_have_count(3)
    status.select_option("expired")
    expect(page.get_by_text("No expired rewards.")).to_be_visible()

    status.select_option("inactive")
    row = page.locator(f'tr[data-reward-id="{retired["id"]}"]')
    expect(row).to_contain_text("Inactive")
    expect(row.get_by_role("button", name="Deactivate")).to_have_count(0)
    row.get_by_role("button", name="Reactivate").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Cancel").click()  # changing one's mind changes nothing
    assert api.get(f"/rewards/{retired['id']}").json()["status"] == "inactive"
    row.get_by_role("button", name="Reactivate").click()
    page.get_by_role("dialog").get_by_role("button", name="Reactivate").click()
    expect(page.get_by_role("status")).to_contain_text("Reactivated “Retired”. It is active again.")
    expect(row).to_have_count(0)  # no longer inactive
    expect(page.get_by_text("No inactive rewards.")).to_be_visible()
    assert api.get(f"/rewards/{retired['id']}").json()["status"] == "active"
    status.select_option("active")
    expect(rows).to_have_count(2)
    expect(page.locator(f'tr[data-reward-id="{active["id"]}"]')).to_be_visible()
    expect(page.locator(f'tr[data-reward-id="{retired["id"]}"]')).to_be_visible()


def test_a_refused_code_is_named_by_its_line_and_nothing_of_its_chunk_is_added(
    signed_in: Page, api: Api, tmp_path: Path
) -> None:
    reward = api.create_reward(name="Gift Card")
    codes = tmp_path / "codes.txt"
    codes.write_text("GIFT-1\n\nGIFT-2\nGIFT-\u00e9\n", encoding="utf-8")
    page = signed_in
    page.reload()
    page.locator(f'tr[data-reward-id="{reward["id"]}"]').get_by_role(
        "button", name="Upload codes"
    ).click()
    page.get_by_label("Codes file").set_input_files(codes)
    page.get_by_role("button", name="Upload", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("line 4:")  # the file's line, blank lines counted
    expect(page.get_by_role("status")).to_contain_text("Stopped after 0 codes")
    assert api.get(f"/rewards/{reward['id']}").json()["available_codes"] == 0
