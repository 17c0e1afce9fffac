"""Campaigns on the real stack: gunicorn, Celery worker and beat, PostgreSQL, Redis.

A 10,000-participant campaign with the worker killed part-way (kill -9) still
ends with exact counts and each participant gifted at most once; storefront
claims keep flowing while it runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from core.checks import run_checks
from core.db import Database
from core.models import CampaignItem, Claim
from tests.e2e.test_faults import MakeStack, seeded


def wait_for(api_get: object, campaign_id: str, *, status: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        shown = api_get(f"/campaigns/{campaign_id}").json()  # type: ignore[operator]
        assert shown["succeeded"] + shown["failed"] + shown["pending"] == shown["total"]
        if shown["status"] == status:
            return shown
        time.sleep(0.5)
    raise AssertionError(f"campaign not {status} after {timeout_s}s: {shown}")


def test_a_worker_killed_mid_campaign_loses_no_participant_and_gifts_none_twice(
    private_stack: MakeStack,
) -> None:
    stack, db = private_stack(sweep_interval_s="1")
    stack.start_api()
    stack.start_worker()
    stack.start_beat()
    api, reward_id = seeded(stack, db, codes=8_000)
    ids = "\n".join(f"fan-{n}" for n in range(10_000)).encode()

    created = api.post(
        f"/campaigns?reward_id={reward_id}&name=kill-test",
        data=ids,
        headers={"Content-Type": "text/csv", "Idempotency-Key": f"k-{uuid.uuid4().hex}"},
    )
    assert created.status_code == 202, created.text
    campaign_id = created.json()["campaign_id"]
    deadline = time.monotonic() + 60
    while api.get(f"/campaigns/{campaign_id}").json()["succeeded"] < 500:
        assert time.monotonic() < deadline, "the campaign never started"
        time.sleep(0.1)
    stack.kill("worker")  # SIGKILL, mid-chunk
    shown = api.get(f"/campaigns/{campaign_id}").json()
    assert shown["pending"] > 0, "the kill came too late to test anything"
    claim = api.claim(reward_id, "storefront-shopper", key=f"k-{uuid.uuid4().hex}")
    stack.start_worker()

    final = wait_for(api.get, campaign_id, status="completed")
    assert claim.status_code in (201, 202, 409)
    storefront_won = claim.status_code != 409 and (
        api.get(f"/claims/{claim.json()['claim_id']}").json()["status"] == "succeeded"
    )
    # Every code went to exactly one holder: the campaign's and the storefront's together.
    assert final["succeeded"] + storefront_won == 8_000
    assert final["failures_by_code"] == {"inventory_exhausted": 10_000 - final["succeeded"]}
    _assert_once_each(db, reward_id, campaign_id)
    with db.transaction() as session:
        assert run_checks(session, max_pending_age=timedelta(minutes=5)) == []


def _assert_once_each(db: Database, reward_id: str, campaign_id: str) -> None:
    with db.transaction() as session:
        doubled = session.execute(
            select(Claim.participant_external_id)
            .where(Claim.reward_id == reward_id)
            .group_by(Claim.participant_external_id)
            .having(func.count() > 1)
        ).all()
        items = session.scalar(
            select(func.count())
            .select_from(CampaignItem)
            .where(CampaignItem.campaign_id == campaign_id, CampaignItem.status != "pending")
        )
    assert doubled == []
    assert items == 10_000


def test_the_cli_runs_a_campaign_from_a_file_on_the_embedded_default(tmp_path: Path) -> None:
    env = {**os.environ, "COFFER_DATABASE_URL": f"sqlite:///{tmp_path}/coffer.db"}
    env.pop("COFFER_BROKER_URL", None)
    coffer = str(Path(sys.executable).with_name("coffer"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([coffer, *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip

    demo = json.loads(run("demo", "--json").stdout)
    ids = tmp_path / "ids.csv"
    ids.write_text("participant_id\r\n" + "\r\n".join(f"bday-{n}" for n in range(120)) + "\r\n")
    scope = ["--tenant", demo["tenant_id"], "--mode", "live"]
    created = run("campaigns", "create", "--reward", demo["reward_ids"][0], "--file", str(ids),
                  "--header", "--name", "Birthdays", *scope)  # fmt: skip
    assert created.returncode == 0, created.stderr
    lines = created.stdout.strip().splitlines()
    assert lines[0].endswith(": 120 participants")
    assert lines[-1] == "completed: 50 succeeded, 70 failed (inventory_exhausted 70)"
    campaign_id = lines[0].split()[1].rstrip(":")
    shown = json.loads(run("campaigns", "show", campaign_id, *scope).stdout)
    assert (shown["status"], shown["total"], shown["succeeded"]) == ("completed", 120, 50)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"fine\nnot\x01fine\n")
    refused = run("campaigns", "create", "--reward", demo["reward_ids"][0], "--file", str(bad),
                  *scope)  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith("coffer: line 2: is not a valid participant id")
    assert "Traceback" not in refused.stderr
