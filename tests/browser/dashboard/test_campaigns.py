"""Campaigns: start a 2,000-participant campaign from a file, watch the progress bar and
failures by code until it completes with the right counts, download its results as CSV."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.db import Database
from core.migrate import upgrade
from tests.browser.dashboard.conftest import sign_in
from tests.support import browser as chromium
from tests.support.client import Api
from tests.support.services import fresh_database, private_redis_db
from tests.support.stack import Stack
from tests.support.tenants import TestTenant, make_tenant

PARTICIPANTS = 2_000
CODES = 1_990  # ten participants find the stock exhausted


def test_a_2000_participant_campaign_from_a_file_completes_and_downloads(
    signed_in: Page, api: Api, tmp_path: Path
) -> None:
    reward = api.create_reward(name="Spring Gift", type="coupon")
    api.upload(reward["id"], [f"SPRING-{n:05d}" for n in range(CODES)])
    ids = [f"member-{n:05d}" for n in range(PARTICIPANTS)]
    upload = tmp_path / "members.csv"
    upload.write_text("participant_id\n" + "\n".join(ids) + "\n" + ids[0] + "\n")  # one repeat

    page = signed_in
    page.get_by_role("link", name="Campaigns").click()
    expect(page.get_by_text("No campaigns yet")).to_be_visible()
    page.get_by_label("Reward", exact=True).select_option(reward["id"])
    page.get_by_label("Campaign name (optional)").fill("Spring members")
    page.get_by_label("Participants file").set_input_files(upload)
    page.get_by_label("The first line is a header").check()
    page.get_by_role("button", name="Start campaign").click()

    expect(page.get_by_role("heading", name="Spring members", level=1)).to_be_visible()
    expect(page.locator(".total")).to_have_text("2,000")
    expect(page.locator('.campaign-status[data-status="completed"]')).to_be_visible(timeout=120_000)
    expect(page.locator(".succeeded")).to_have_text("1,990")
    expect(page.locator(".failed")).to_have_text("10")
    expect(page.locator(".pending")).to_have_text("0")
    expect(page.get_by_text("2,000 of 2,000 participants decided (100%)")).to_be_visible()
    expect(page.get_by_role("table", name="Failures by code")).to_contain_text(
        "inventory_exhausted"
    )
    expect(page.get_by_role("button", name="Cancel campaign")).to_have_count(0)
    chromium.shoot(page, "campaign")

    campaign_id = page.url.rsplit("/", 1)[-1]
    shown = api.get(f"/campaigns/{campaign_id}").json()
    assert (shown["status"], shown["total"], shown["succeeded"], shown["failed"]) == (
        "completed", 2000, 1990, 10,
    )  # fmt: skip

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download results (CSV)").click()
    download = downloading.value
    assert download.suggested_filename == f"{campaign_id}-results.csv"
    saved = tmp_path / "results.csv"
    download.save_as(saved)
    with saved.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["participant_id"] for row in rows] == ids  # upload order, each once
    assert Counter(row["status"] for row in rows) == {"succeeded": 1990, "failed": 10}
    assert {row["error_code"] for row in rows if row["status"] == "failed"} == {
        "inventory_exhausted"
    }
    codes = {row["code_value"] for row in rows if row["status"] == "succeeded"}
    assert len(codes) == 1990 and all(code.startswith("SPRING-") for code in codes)
    expect(page.get_by_role("status")).to_contain_text("Downloaded 2,000 results.")

    page.get_by_role("link", name="All campaigns").click()
    expect(page.locator(f'tr[data-campaign-id="{campaign_id}"]')).to_contain_text("Completed")
    chromium.shoot(page, "campaigns")

    # Its 1,990 claims are facts: the events page reads them 100 at a time, newest first
    # (the campaign's completion on top), paging back with `before`.
    page.get_by_role("link", name="Events").click()
    expect(page.locator(".count")).to_have_text("100 events shown")
    events = page.get_by_role("table", name="Events").locator("tbody tr")
    expect(events.first).to_have_attribute("data-event-type", "campaign.completed")
    page.get_by_role("button", name="Load older events").click()
    expect(page.locator(".count")).to_have_text("200 events shown")
    expect(events).to_have_count(200)
    shown = [events.nth(n).locator("code.id").inner_text() for n in (0, 99, 100, 199)]
    newest = api.get("/events", params={"order": "desc", "limit": 200}).json()["events"]
    assert shown == [newest[n]["id"] for n in (0, 99, 100, 199)]
    page.get_by_label("Order").select_option("asc")  # oldest first, as CONTRACT §7 pages
    expect(events.first).to_have_attribute("data-event-type", "reward.reward_claimed")
    page.get_by_role("button", name="Load newer events").click()
    expect(page.locator(".count")).to_have_text("200 events shown")
    page.get_by_label("Type").select_option("campaign.completed")
    expect(page.get_by_role("table", name="Events").locator("tbody tr")).to_have_count(1)
    expect(page.locator(".count")).to_have_text("1 event shown")


def test_a_campaign_without_a_reward_is_refused_next_to_the_field(
    signed_in: Page, api: Api, tmp_path: Path
) -> None:
    upload = tmp_path / "ids.txt"
    upload.write_text("a\nb\n")
    page = signed_in
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_label("Participants file").set_input_files(upload)
    page.get_by_role("button", name="Start campaign").click()
    expect(page.locator('[data-error-for="reward_id"]')).to_contain_text("required")
    assert api.get("/campaigns").json()["campaigns"] == []


@pytest.fixture
def idle_stack(tmp_path: Path) -> Iterator[tuple[Stack, TestTenant]]:
    """gunicorn without a worker: a campaign stays running until it is cancelled."""
    with fresh_database("dashidle") as url, private_redis_db() as redis_url:
        upgrade(url)
        db = Database(url, pool_size=1)
        running = Stack(database_url=url, redis_url=redis_url, logs=tmp_path)
        try:
            running.start_api()
            yield running, make_tenant(db)
        finally:
            running.stop()
            db.dispose()


def test_a_running_campaign_is_cancelled_from_the_page(
    page: Page, idle_stack: tuple[Stack, TestTenant], tmp_path: Path
) -> None:
    stack, tenant = idle_stack
    api = Api(stack.base_url, tenant.key())
    reward = api.create_reward(name="Never Sent")
    upload = tmp_path / "ids.txt"
    upload.write_text("".join(f"p{n}\n" for n in range(300)))
    sign_in(page, stack, tenant.key())
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_label("Reward", exact=True).select_option(reward["id"])
    page.get_by_label("Participants file").set_input_files(upload)
    page.get_by_role("button", name="Start campaign").click()
    expect(page.locator('.campaign-status[data-status="running"]')).to_be_visible()
    expect(page.locator(".pending")).to_have_text("300")
    page.get_by_role("button", name="Cancel campaign").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel campaign").click()
    expect(page.locator('.campaign-status[data-status="cancelled"]')).to_be_visible()
    expect(page.locator(".failed")).to_have_text("300")
    expect(page.get_by_role("table", name="Failures by code")).to_contain_text("campaign_cancelled")
    campaign_id = page.url.rsplit("/", 1)[-1]
    shown = api.get(f"/campaigns/{campaign_id}").json()
    assert (shown["status"], shown["failed"], shown["pending"]) == ("cancelled", 300, 0)
    assert shown["failures_by_code"] == {"campaign_cancelled": 300}


def test_results_csv_defuses_formulas_in_participant_ids(
    signed_in: Page, api: Api, tmp_path: Path
) -> None:
    """OWASP CSV injection: a cell starting with = + - @ gets a leading apostrophe, so a
    spreadsheet shows the id instead of running it; other cells are written as they are."""
    reward = api.create_reward(name="Formula Gift", code_generation={"prefix": "F-", "length": 6})
    ids = ['=HYPERLINK("http://x.test","go")', "+1+1", "-2+3", "@SUM(A1)", "plain-1", "a=b"]
    upload = tmp_path / "ids.csv"
    with upload.open("w", newline="") as handle:  # a CSV of one column: the comma is quoted
        csv.writer(handle, lineterminator="\n").writerows([pid] for pid in ids)
    page = signed_in
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_label("Reward", exact=True).select_option(reward["id"])
    page.get_by_label("Participants file").set_input_files(upload)
    page.get_by_role("button", name="Start campaign").click()
    expect(page.locator('.campaign-status[data-status="completed"]')).to_be_visible(timeout=60_000)

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download results (CSV)").click()
    saved = tmp_path / "results.csv"
    downloading.value.save_as(saved)
    text = saved.read_text()
    with saved.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["participant_id"] for row in rows] == [
        """'=HYPERLINK("http://x.test","go")""", "'+1+1", "'-2+3", "'@SUM(A1)", "plain-1", "a=b",
    ]  # fmt: skip
    assert all(row["status"] == "succeeded" and row["code_value"].startswith("F-") for row in rows)
    # No line of the file starts a cell with a formula character, quoted or not.
    for line in text.splitlines()[1:]:
        first = line.removeprefix('"')
        assert first[0] not in "=+-@", line
    # The API keeps the ids exactly; only the spreadsheet file is defused.
    campaign_id = page.url.rsplit("/", 1)[-1]
    results = api.get(f"/campaigns/{campaign_id}/results").json()["results"]
    assert [r["participant_id"] for r in results] == ids


def test_the_csv_cell_guard_covers_every_formula_start(signed_in: Page) -> None:
    """The cell function itself, for the starts a participant id cannot have (tab, CR)."""
    cells = signed_in.evaluate(
        """async () => {
          const { csvCell } = await import("/admin/assets/campaigns.js");
          return ["=1", "+1", "-1", "@a", "\\t=1", "\\r=1", "a-1", "", null, 'x"y', "=a,b"]
            .map(csvCell);
        }"""
    )
    assert cells == [
        "'=1", "'+1", "'-1", "'@a", "'\t=1", "\"'\r=1\"", "a-1", "", "", '"x""y"', "\"'=a,b\"",
    ]  # fmt: skip


def test_a_bad_id_in_the_file_is_named_once(signed_in: Page, api: Api, tmp_path: Path) -> None:
    reward = api.create_reward(name="Bad Ids")
    upload = tmp_path / "ids.txt"
    upload.write_text('a\nb\n"c","d"\n')  # line 3 holds two values
    page = signed_in
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_label("Reward", exact=True).select_option(reward["id"])
    page.get_by_label("Participants file").set_input_files(upload)
    page.get_by_role("button", name="Start campaign").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("line 3")
    assert alert.inner_text().count("line 3") == 1, alert.inner_text()
    expect(alert.locator("li")).to_have_count(0)
    assert api.get("/campaigns").json()["campaigns"] == []
