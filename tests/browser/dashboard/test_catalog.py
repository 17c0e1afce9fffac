"""Catalog: create a reward from the form, upload 10,000 codes from a file with a progress
bar, see the stock and its low-stock warning, edit and deactivate; a wrong field gets the
API's own message next to it and nothing is created."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Dialog, Page, Route, expect

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


def open_upload(page: Page, reward_id: str) -> None:
    page.reload()
    page.locator(f'tr[data-reward-id="{reward_id}"]').get_by_role(
        "button", name="Upload codes"
    ).click()


def test_a_double_click_on_upload_sends_the_file_once(
    signed_in: Page, api: Api, tmp_path: Path
) -> None:
    reward = api.create_reward(name="Double Click")
    codes = tmp_path / "codes.txt"
    codes.write_text("".join(f"DBL-{n:05d}\n" for n in range(5_000)))
    page = signed_in
    open_upload(page, reward["id"])
    sent: list[str] = []
    page.on(
        "request",
        lambda request: sent.append(request.url) if request.method == "POST" else None,
    )
    page.get_by_label("Codes file").set_input_files(codes)
    page.get_by_role("button", name="Upload", exact=True).dblclick()
    expect(page.locator(".upload-result")).to_have_text(
        "Added 5,000 codes, 0 duplicates. ", timeout=60_000
    )
    expect(page.locator(".available")).to_have_text("5,000")
    assert len(sent) == 5  # one request per 1,000 codes, none twice
    assert api.get(f"/rewards/{reward['id']}").json()["available_codes"] == 5_000


def test_leaving_the_page_mid_upload_keeps_it_in_view_and_a_reload_asks_first(
    signed_in: Page, api: Api, tmp_path: Path
) -> None:
    """The upload goes on while the person reads other pages, shown in the header until it
    ends; reloading or closing the tab while it runs asks first (beforeunload)."""
    reward = api.create_reward(name="Long Upload")
    codes = tmp_path / "codes.txt"
    codes.write_text("".join(f"LONG-{n:05d}\n" for n in range(2_500)))
    page = signed_in
    open_upload(page, reward["id"])
    # Each chunk's request waits here until the test lets it go on to the real API.
    hold = [True]
    held: list[Route] = []
    page.route(
        "**/rewards/*/codes",
        lambda route: held.append(route) if hold[0] else route.continue_(),
    )
    page.get_by_label("Codes file").set_input_files(codes)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_text("Uploaded 0 of 2,500 codes (0%)")).to_be_visible()
    banner = page.get_by_role("banner")
    starting = "Uploading codes to “Long Upload”: 0 of 2,500"
    expect(banner.get_by_role("status")).to_have_text(starting)

    page.get_by_role("link", name="Events").click()
    expect(page.get_by_role("heading", name="Events", level=1)).to_be_visible()
    expect(banner.get_by_role("status")).to_have_text(starting)  # still going, and said so
    while not held:
        page.wait_for_timeout(50)
    held.pop().continue_()
    expect(banner.get_by_role("status")).to_have_text(
        "Uploading codes to “Long Upload”: 1,000 of 2,500"
    )

    asked: list[str] = []

    def stay(dialog: Dialog) -> None:
        asked.append(dialog.type)
        dialog.dismiss()  # "Stay on page"

    page.once("dialog", stay)
    page.evaluate("setTimeout(() => location.reload(), 0)")
    while not asked:
        page.wait_for_timeout(50)
    assert asked == ["beforeunload"]
    expect(page.get_by_role("heading", name="Events", level=1)).to_be_visible()  # still here

    hold[0] = False
    while held:
        held.pop().continue_()
    expect(banner.get_by_role("status")).to_contain_text(
        "Uploaded codes to “Long Upload”: 2,500 added, 0 duplicates."
    )
    assert api.get(f"/rewards/{reward['id']}").json()["available_codes"] == 2_500
    banner.get_by_role("button", name="Dismiss").click()
    expect(banner.get_by_role("status")).to_have_count(0)
    # Done: leaving asks nothing any more.
    asks = page.evaluate(
        "() => { const e = new Event('beforeunload', { cancelable: true });"
        " window.dispatchEvent(e); return e.defaultPrevented; }"
    )
    assert asks is False


def test_a_refused_line_is_named_once_by_its_line_and_the_stock_shows_what_went_in(
    signed_in: Page, api: Api, tmp_path: Path
) -> None:
    reward = api.create_reward(name="Long Code")
    lines = [f"LC-{n:05d}" for n in range(2_500)]
    lines[1_499] = "X" * 600  # line 1500: the 500th code of the second chunk
    codes = tmp_path / "codes.txt"
    codes.write_text("\n".join(lines) + "\n")
    page = signed_in
    open_upload(page, reward["id"])
    page.get_by_label("Codes file").set_input_files(codes)
    page.get_by_role("button", name="Upload", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("line 1500: String should have at most 255 characters")
    expect(page.get_by_role("status").filter(has_text="Stopped after")).to_have_text(
        "Stopped after 1,000 codes: 1,000 added, 0 duplicates. "
        "Fix the file and upload it again; codes already added count as duplicates."
    )
    expect(page.locator(".available")).to_have_text("1,000")  # the first chunk went in
    assert api.get(f"/rewards/{reward['id']}").json()["available_codes"] == 1_000


def test_a_file_without_codes_resets_the_last_uploads_progress(
    signed_in: Page, api: Api, tmp_path: Path
) -> None:
    reward = api.create_reward(name="Blank File")
    codes = tmp_path / "codes.txt"
    codes.write_text("BLANK-1\nBLANK-2\n")
    page = signed_in
    open_upload(page, reward["id"])
    page.get_by_label("Codes file").set_input_files(codes)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_text("Uploaded 2 of 2 codes (100%)")).to_be_visible()
    codes.write_text("\n   \n\n")
    page.get_by_label("Codes file").set_input_files(codes)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("The file holds no codes.")
    expect(page.locator("progress")).to_be_hidden()
    expect(page.locator(".progress-text")).to_have_text("")
    expect(page.locator(".upload-result")).to_have_count(0)


def test_number_fields_take_thousands_separators(signed_in: Page, api: Api) -> None:
    page = signed_in
    page.get_by_role("button", name="New reward").click()
    form = page.locator("form", has=page.get_by_role("heading", name="New reward"))
    form.get_by_label("Name").fill("Big Prize")
    form.get_by_label("Points cost").fill("1,500")  # as the dashboard shows numbers
    form.get_by_label("Low-stock warning below").fill("20 000")
    form.get_by_label("Codes valid for (days)").fill("1,5")  # not a whole number: the API says
    form.get_by_role("button", name="Create reward").click()
    expect(form.locator('[data-error-for="code_expiry_days"]')).to_contain_text("integer")
    expect(form.locator('[data-error-for="points_cost"]')).to_be_hidden()
    assert rewards_named(api, "Big Prize") == []
    form.get_by_label("Codes valid for (days)").fill("1_000")
    form.get_by_role("button", name="Create reward").click()
    expect(page.get_by_role("status")).to_contain_text("Created “Big Prize”")
    [made] = rewards_named(api, "Big Prize")
    assert (made["points_cost"], made["low_stock_threshold"], made["code_expiry_days"]) == (
        1500, 20000, 1000,
    )  # fmt: skip
    read = page.evaluate(
        """async () => {
          const { intOrText } = await import("/admin/assets/ui.js");
          return ["1,000", " 12 345 678 ", "1\\u202f000", "1\\u00a0000", "-2,000", "7", "",
                  "1,00", "1,000.5", "1.000", "1,000 000", "12,34,567", ",100", "1e3"]
            .map(intOrText);
        }"""
    )
    assert read == [
        1000, 12345678, 1000, 1000, -2000, 7, None,
        "1,00", "1,000.5", "1.000", "1,000 000", "12,34,567", ",100", "1e3",
    ]  # fmt: skip


def test_closing_a_form_puts_focus_back_on_the_button_that_opened_it(
    signed_in: Page, api: Api
) -> None:
    reward = api.create_reward(name="Focus Prize")
    page = signed_in
    page.reload()
    page.get_by_role("button", name="New reward").click()
    expect(page.get_by_label("Name")).to_be_focused()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("button", name="New reward")).to_be_focused()

    row = page.locator(f'tr[data-reward-id="{reward["id"]}"]')
    row.get_by_role("button", name="Edit").click()
    page.get_by_role("button", name="Cancel").click()
    expect(row.get_by_role("button", name="Edit")).to_be_focused()
    row.get_by_role("button", name="Upload codes").click()
    page.get_by_role("button", name="Close").click()
    expect(row.get_by_role("button", name="Upload codes")).to_be_focused()

    page.get_by_role("button", name="New reward").click()
    page.get_by_label("Name").fill("Saved Prize")
    page.get_by_role("button", name="Create reward").click()
    expect(page.get_by_role("status")).to_contain_text("Created “Saved Prize”")
    expect(page.get_by_role("button", name="New reward")).to_be_focused()
