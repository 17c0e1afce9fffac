"""`core.checks` (what `coffer check` runs): silent on a healthy database, and each check
reports its own kind of corruption with the ids involved."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from core.checks import run_checks
from core.migrate import upgrade
from core.runtime import Runtime, build_runtime
from core.settings import Settings
from tests.support.campaigns import run_to_end, start
from tests.support.claims import accept, credit, drain_all, new_reward
from tests.support.services import fresh_database
from tests.support.tenants import make_tenant


@pytest.fixture
def private(settings: Settings) -> Iterator[Runtime]:
    """A database of its own: other tests leave claims pending on purpose."""
    with fresh_database("checks") as url:
        upgrade(url)
        runtime = build_runtime(settings.model_copy(update={"database_url": url}))
        yield runtime
        runtime.close()


def checks(runtime: Runtime, max_age: timedelta = timedelta(hours=1)) -> dict[str, list[str]]:
    with runtime.db.transaction() as session:
        found: dict[str, list[str]] = {}
        for violation in run_checks(session, max_pending_age=max_age):
            found.setdefault(violation.check, []).append(violation.detail)
        return found


def sql(runtime: Runtime, statement: str, **params: object) -> None:
    with runtime.db.transaction() as session:
        session.execute(text(statement), params)


def test_a_healthy_database_breaks_no_invariant(private: Runtime) -> None:
    tenant = make_tenant(private.db)
    reward_id = new_reward(private.db, tenant, codes=3, points_cost=10)
    for n in range(5):
        credit(private.db, tenant, f"p{n}", 10)
        accept(private.db, tenant, reward_id, f"p{n}", deduct=True)
    drain_all(private.db)
    assert checks(private) == {}


def test_each_kind_of_corruption_is_reported_by_its_check(private: Runtime) -> None:
    db = private.db
    tenant = make_tenant(db)
    reward_id = new_reward(db, tenant, codes=2, points_cost=10)
    credit(db, tenant, "rich", 100)
    first = accept(db, tenant, reward_id, "rich", deduct=True).resource_id
    accept(db, tenant, reward_id, "rich", deduct=True)  # refused: max_claims_exceeded
    accept(db, tenant, reward_id, "other")  # refused: insufficient points
    drain_all(db)
    waiting = accept(db, tenant, reward_id, "late").resource_id

    sql(private, "UPDATE participants SET balance = balance + 5 WHERE external_id = 'rich'")
    sql(private, "DROP INDEX uq_claims_held_code")
    sql(
        private,
        "UPDATE claims SET status = 'succeeded', code_id ="
        " (SELECT code_id FROM claims WHERE claim_id = :first) WHERE status = 'failed'",
        first=first,
    )
    sql(private, "DELETE FROM facts WHERE data->>'claim_id' = :first", first=first)

    found = checks(private, max_age=timedelta(0))

    assert found["balance_equals_ledger"] == [
        f"{tenant.id}/live participant 'rich': balance 95, ledger 90"
    ]
    assert len(found["one_holder_per_code"]) == 1 and first in found["one_holder_per_code"][0]
    assert found["claims_within_codes"] == [f"reward {reward_id}: 3 held claims, 2 codes"]
    assert any(first in detail for detail in found["one_fact_per_claim"])
    assert found["per_user_limit"] == [
        f"participant 'rich' holds 2 of reward {reward_id} (limit 1)"
    ]
    assert [waiting in detail for detail in found["no_stale_pending"]] == [True]


def test_a_campaign_whose_counts_drift_from_its_items_is_reported(private: Runtime) -> None:
    tenant = make_tenant(private.db)
    reward_id = new_reward(private.db, tenant, codes=5)
    campaign_id = start(private.db, tenant, reward_id, ["a", "b", "c"])
    run_to_end(private.db, campaign_id)
    assert checks(private) == {}
    sql(private, "UPDATE campaigns SET succeeded = succeeded - 1, failed = failed + 1")
    assert checks(private)["campaign_counts"] == [
        f"campaign {campaign_id}: counts 3/2/1 (total/succeeded/failed), items 3/3/0"
    ]


def test_coffer_check_prints_each_violation_and_exits_non_zero(private: Runtime) -> None:
    env = {**os.environ, "COFFER_DATABASE_URL": private.db.url}
    command = [str(Path(sys.executable).with_name("coffer")), "check"]

    def coffer_check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=60, check=False
        )

    clean = coffer_check()
    assert (clean.returncode, clean.stdout.strip()) == (0, "all invariants hold")
    tenant = make_tenant(private.db)
    credit(private.db, tenant, "drifted", 10)
    sql(private, "UPDATE participants SET balance = 7 WHERE external_id = 'drifted'")
    broken = coffer_check()
    assert broken.returncode == 1
    assert broken.stdout.splitlines() == [
        f"balance_equals_ledger: {tenant.id}/live participant 'drifted': balance 7, ledger 10"
    ]
    assert "Traceback" not in broken.stderr
