"""The README's "## Dashboard" walkthrough on the embedded default, as a newcomer runs it:
`coffer demo`, `coffer serve`, sign in with the printed live admin key, create a reward,
stock it from a file, gift it to a list from a file and download the results."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time
from pathlib import Path

import requests
from playwright.sync_api import Page, expect

from tests.support.processes import die_with_parent
from tests.support.stack import BIN, free_port


def test_create_stock_and_gift_a_reward_on_coffer_serve(page: Page, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    demo = subprocess.run(
        [str(BIN / "coffer"), "demo", "--json"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    admin_key = json.loads(demo.stdout)["keys"]["live"]["admin"]
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "coffer"), "serve", "--port", str(port)], env=env, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz")
        for asset in ("app.js", "ui.js", "admin.css"):  # served through waitress too
            assert requests.get(f"{base}/admin/assets/{asset}", timeout=10).status_code == 200
        (tmp_path / "codes.txt").write_text("".join(f"TEA-{n:03d}\n" for n in range(50)))
        (tmp_path / "list.csv").write_text("".join(f"guest-{n:03d}\n" for n in range(60)))

        page.goto(f"{base}/admin")
        page.get_by_label("Admin key").fill(admin_key)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="New reward").click()
        page.locator("form").get_by_label("Name").fill("Free Tea")
        page.get_by_role("button", name="Create reward").click()
        row = page.locator("tr", has_text="Free Tea")
        row.get_by_role("button", name="Upload codes").click()
        page.get_by_label("Codes file").set_input_files(tmp_path / "codes.txt")
        page.get_by_role("button", name="Upload", exact=True).click()
        expect(page.locator(".upload-result")).to_have_text("Added 50 codes, 0 duplicates. ")
        expect(row.locator(".stock-count")).to_have_text("50")

        page.get_by_role("link", name="Campaigns").click()
        reward = page.get_by_label("Reward", exact=True)
        reward.select_option(label="Free Tea (50 codes available)")
        page.get_by_label("Participants file").set_input_files(tmp_path / "list.csv")
        page.get_by_role("button", name="Start campaign").click()
        expect(page.locator('.campaign-status[data-status="completed"]')).to_be_visible(
            timeout=60_000
        )
        expect(page.locator(".succeeded")).to_have_text("50")
        expect(page.locator(".failed")).to_have_text("10")
        with page.expect_download() as downloading:
            page.get_by_role("button", name="Download results (CSV)").click()
        downloading.value.save_as(tmp_path / "results.csv")
        with (tmp_path / "results.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == 60
        assert sum(row["status"] == "succeeded" for row in rows) == 50
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    raise AssertionError("coffer serve did not answer")
