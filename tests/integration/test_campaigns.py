"""Campaign fan-out on PostgreSQL: the same claim core, exact counts, once per participant."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import func, select

from core.campaigns.control import cancel_campaign
from core.campaigns.fanout import advance
from core.clock import utcnow
from core.models import Claim, Fact, IdempotencyRecord
from core.runtime import Runtime
from tests.support.campaigns import items_by_status, run_to_end, start, view
from tests.support.claims import accept, balance_and_ledger, credit, drain_all, new_reward
from tests.support.faults import facts_refused_for
from tests.support.tenants import TestTenant


def test_a_campaign_gifts_each_distinct_participant_once_with_exact_counts(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=300)
    people = [f"bday-{n}" for n in range(250)]
    campaign_id = start(db, tenant, reward_id, [*people, *people[:20]], name="Birthdays")

    assert view(db, campaign_id)["total"] == 250
    run_to_end(db, campaign_id)

    final = view(db, campaign_id)
    assert (final["status"], final["succeeded"], final["failed"], final["pending"]) == (
        "completed", 250, 0, 0,
    )  # fmt: skip
    assert items_by_status(db, campaign_id) == {"succeeded": 250}
    with db.transaction() as session:
        keys = set(
            session.scalars(
                select(IdempotencyRecord.idempotency_key).where(
                    IdempotencyRecord.idempotency_key.like(f"campaign:{campaign_id}:%")
                )
            )
        )
        claims = session.scalar(
            select(func.count())
            .select_from(Claim)
            .where(Claim.reward_id == reward_id, Claim.status == "succeeded")
        )
        completed = session.scalars(
            select(Fact.data).where(Fact.tenant_id == tenant.id, Fact.type == "campaign.completed")
        ).all()
    assert keys == {f"campaign:{campaign_id}:{p}" for p in people}
    assert claims == 250
    assert [(f["campaign_id"], f["succeeded"], f["status"]) for f in completed] == [
        (campaign_id, 250, "completed")
    ]
    assert not advance(db, campaign_id=campaign_id).decided  # a re-run is a no-op


def test_running_out_and_limits_are_counted_by_code(runtime: Runtime, tenant: TestTenant) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=5, max_claims_per_user=1)
    accept(db, tenant, reward_id, "already")
    drain_all(db)
    campaign_id = start(db, tenant, reward_id, ["already", *[f"p{n}" for n in range(9)]])
    run_to_end(db, campaign_id, chunk_size=3)

    final = view(db, campaign_id)
    assert (final["succeeded"], final["failed"]) == (4, 6)
    assert final["failures_by_code"] == {"inventory_exhausted": 5, "max_claims_exceeded": 1}


def test_a_second_campaign_never_gifts_a_participant_twice_beyond_the_limit(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=50, max_claims_per_user=1)
    first = start(db, tenant, reward_id, ["ann", "bob"])
    run_to_end(db, first)
    second = start(db, tenant, reward_id, ["ann", "bob", "cy"])
    run_to_end(db, second)
    assert view(db, second)["failures_by_code"] == {"max_claims_exceeded": 2}
    assert view(db, second)["succeeded"] == 1


def test_paid_campaigns_debit_points_through_the_ledger(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=10, points_cost=100)
    credit(db, tenant, "payer", 150)
    campaign_id = start(db, tenant, reward_id, ["payer", "broke"], points_deduction=True)
    run_to_end(db, campaign_id)
    assert view(db, campaign_id)["failures_by_code"] == {"insufficient_points": 1}
    assert balance_and_ledger(db, tenant, "payer") == (50, 50)


def test_cancel_stops_the_undecided_and_keeps_the_decided(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=100)
    campaign_id = start(db, tenant, reward_id, [f"c{n}" for n in range(40)])
    advance(db, campaign_id=campaign_id, chunk_size=15)
    with db.transaction() as session:
        cancelled = cancel_campaign(
            session, principal=tenant.principal(), campaign_id=campaign_id, now=utcnow()
        ).wire()
    assert (cancelled["status"], cancelled["succeeded"], cancelled["failed"]) == (
        "cancelled", 15, 25,
    )  # fmt: skip
    assert cancelled["failures_by_code"] == {"campaign_cancelled": 25}
    assert advance(db, campaign_id=campaign_id).decided == 0
    assert items_by_status(db, campaign_id) == {"succeeded": 15, "failed": 25}


def test_racing_chunks_decide_each_participant_once_and_the_counts_stay_exact(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=400)
    campaign_id = start(db, tenant, reward_id, [f"r{n}" for n in range(600)])
    snapshots: list[dict[str, int]] = []
    done = threading.Event()

    def work() -> None:
        while not advance(db, campaign_id=campaign_id, chunk_size=40).finished:
            pass
        done.set()

    def watch() -> None:
        while not done.is_set():
            snapshots.append(view(db, campaign_id))

    threads = [threading.Thread(target=work) for _ in range(4)] + [threading.Thread(target=watch)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(s["succeeded"] + s["failed"] + s["pending"] == s["total"] for s in snapshots)
    final = view(db, campaign_id)
    assert (final["succeeded"], final["failures_by_code"]) == (400, {"inventory_exhausted": 200})
    with db.transaction() as session:
        per_participant = session.execute(
            select(Claim.participant_external_id, func.count())
            .where(Claim.reward_id == reward_id)
            .group_by(Claim.participant_external_id)
            .having(func.count() > 1)
        ).all()
    assert per_participant == []


def test_a_participant_failing_for_a_fault_never_rolls_back_the_others(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    poison = f"poison-{uuid.uuid4().hex[:8]}"
    reward_id = new_reward(db, tenant, codes=20)
    with facts_refused_for(db, poison):
        campaign_id = start(db, tenant, reward_id, ["ok-1", poison, "ok-2", "ok-3"])
        run_to_end(db, campaign_id)
    final = view(db, campaign_id)
    assert (final["succeeded"], final["failures_by_code"]) == (3, {"processing_failed": 1})
