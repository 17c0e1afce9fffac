"""The claim core on PostgreSQL: batches, races between drains, and all-or-nothing commits."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import select, text

from core.claims.drain import Drain
from core.claims.failures import SetAside
from core.db import Database
from core.models import Claim, Fact, Inventory
from core.notify import PolledOutcomes
from core.runtime import Runtime
from tests.support.claims import (
    accept,
    balance_and_ledger,
    claim_rows,
    credit,
    drain_all,
    draining,
    new_reward,
    outcomes,
)
from tests.support.faults import facts_refused_for
from tests.support.tenants import TestTenant


def outcomes_pk(db: Database, claim_id: str | None) -> int:
    with db.transaction() as session:
        return session.scalar(select(Claim.id).where(Claim.claim_id == claim_id)) or 0


def error_codes(results: dict[str, tuple[str, dict]]) -> Counter[str]:
    return Counter(
        "succeeded" if status == "succeeded" else body["code"] for status, body in results.values()
    )


def test_claims_are_decided_in_order_and_take_codes_in_upload_order(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=3)
    ids = [accept(db, tenant, reward_id, f"user-{n}").resource_id for n in range(5)]
    drain_all(db)
    results = outcomes(db, ids)
    codes = [results[i][1].get("code_value") for i in ids]
    assert codes[:3] == [f"{reward_id}-0000001", f"{reward_id}-0000002", f"{reward_id}-0000003"]
    assert [results[i][1]["code"] for i in ids[3:]] == ["inventory_exhausted"] * 2


def test_racing_drains_never_hand_out_a_code_twice(runtime: Runtime, tenant: TestTenant) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=100)
    claim_ids: list[str] = []
    with draining(db), ThreadPoolExecutor(16) as pool:
        claim_ids = list(
            pool.map(lambda n: accept(db, tenant, reward_id, f"p{n}").resource_id, range(400))
        )

    assert error_codes(outcomes(db, claim_ids)) == {"succeeded": 100, "inventory_exhausted": 300}
    rows = claim_rows(db, reward_id)
    assert len({row.code_id for row in rows}) == len({row.code_value for row in rows}) == 100
    with db.transaction() as session:
        assert session.get(Inventory, reward_id).allocated_count == 100  # type: ignore[union-attr]


def test_one_participant_racing_with_many_keys_never_exceeds_the_limit(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=50, max_claims_per_user=3)

    def claim_and_drain(n: int) -> str:
        claim_id = accept(db, tenant, reward_id, "greedy").resource_id or ""
        drain_all(db)
        return claim_id

    with ThreadPoolExecutor(12) as pool:
        claim_ids = list(pool.map(claim_and_drain, range(40)))
    drain_all(db)

    assert error_codes(outcomes(db, claim_ids)) == {"succeeded": 3, "max_claims_exceeded": 37}
    assert len(claim_rows(db, reward_id)) == 3


def test_racing_paid_claims_never_overdraw_and_the_ledger_sums_to_the_balance(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=50, points_cost=300, max_claims_per_user=50)
    credit(db, tenant, "spender", 1000)

    def claim_and_drain(n: int) -> str:
        claim_id = accept(db, tenant, reward_id, "spender", deduct=True).resource_id or ""
        drain_all(db)
        return claim_id

    with ThreadPoolExecutor(12) as pool:
        claim_ids = list(pool.map(claim_and_drain, range(30)))
    drain_all(db)

    assert error_codes(outcomes(db, claim_ids)) == {"succeeded": 3, "insufficient_points": 27}
    assert balance_and_ledger(db, tenant, "spender") == (100, 100)


def test_a_failing_batch_commits_nothing_and_the_failing_claim_is_set_aside(
    runtime: Runtime, tenant: TestTenant
) -> None:
    """A database error in the middle of a batch rolls back every debit, code and fact of it;
    the drain then isolates the claim that fails and decides the others."""
    db = runtime.db
    poison = f"poison-{uuid.uuid4().hex[:8]}"
    reward_id = new_reward(db, tenant, codes=10, points_cost=100, max_claims_per_user=5)
    for participant in ("alice", "bob", poison):
        credit(db, tenant, participant, 1000)
    with facts_refused_for(db, poison):
        ids = [
            accept(db, tenant, reward_id, p, deduct=True).resource_id
            for p in ("alice", poison, "bob")
        ]
        drain_all(db)
        results = outcomes(db, ids)
        assert [results[i][0] for i in ids] == ["succeeded", "pending", "succeeded"]
        assert balance_and_ledger(db, tenant, poison) == (1000, 1000)
        assert balance_and_ledger(db, tenant, "alice") == (900, 900)
        assert {row.participant_external_id for row in claim_rows(db, reward_id)} == {
            "alice",
            "bob",
        }
    Drain(db, PolledOutcomes(db), batch_size=50, set_aside=SetAside(0)).run()  # fault gone: decided
    assert outcomes(db, [ids[1]])[ids[1]][0] == "succeeded"
    assert balance_and_ledger(db, tenant, poison) == (900, 900)


def test_every_success_appends_exactly_one_claimed_fact(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=5)
    ids = [accept(db, tenant, reward_id, f"fan-{n}").resource_id for n in range(7)]
    drain_all(db)
    with db.transaction() as session:
        facts = session.scalars(
            select(Fact).where(Fact.tenant_id == tenant.id, Fact.type == "reward.reward_claimed")
        ).all()
    assert sorted(f.data["claim_id"] for f in facts) == sorted(
        i for i, (status, _) in outcomes(db, ids).items() if status == "succeeded"
    )
    assert len(facts) == 5
    assert {f.data["reward_id"] for f in facts} == {reward_id}


def test_low_stock_is_announced_once_when_crossing_the_threshold(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=6, low_stock_threshold=3)
    for n in range(6):
        accept(db, tenant, reward_id, f"buyer-{n}")
        drain_all(db)
    with db.transaction() as session:
        lows = session.scalars(
            select(Fact).where(Fact.tenant_id == tenant.id, Fact.type == "reward.inventory_low")
        ).all()
    assert [f.data["available_codes"] for f in lows] == [2]


def test_generated_codes_carry_the_prefix_and_are_distinct(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=2, code_generation={"prefix": "GIFT-", "length": 10})
    ids = [accept(db, tenant, reward_id, f"guest-{n}").resource_id for n in range(30)]
    drain_all(db)
    codes = [body["code_value"] for _, body in outcomes(db, ids).values()]
    assert len(set(codes)) == 30
    generated = [c for c in codes if c.startswith("GIFT-")]
    assert len(generated) == 28 and all(len(c) == 15 for c in generated)
    assert all(set(c[5:]) <= set("ABCDEFGHJKMNPQRSTUVWXYZ23456789") for c in generated)


def test_low_stock_and_exhaustion_fire_once_per_crossing_and_are_rearmed_by_uploads(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=3, low_stock_threshold=2)

    def take(count: int) -> None:
        for _ in range(count):
            accept(db, tenant, reward_id, f"taker-{uuid.uuid4().hex[:6]}")
            drain_all(db)

    def alerts() -> list[tuple[str, int]]:
        with db.transaction() as session:
            rows = session.scalars(
                select(Fact)
                .where(
                    Fact.tenant_id == tenant.id,
                    Fact.type.in_(["reward.inventory_low", "reward.inventory_exhausted"]),
                )
                .order_by(Fact.id)
            )
            return [
                (f.type.removeprefix("reward.inventory_"), f.data["available_codes"]) for f in rows
            ]

    take(4)  # 3 -> 2 -> 1 (low) -> 0 (exhausted), then a refusal: nothing more
    assert alerts() == [("low", 1), ("exhausted", 0)]
    upload_more(db, tenant, reward_id, 3)  # back to 3 >= 2: both re-armed
    take(3)
    assert alerts() == [("low", 1), ("exhausted", 0), ("low", 1), ("exhausted", 0)]


def upload_more(db: Database, tenant: TestTenant, reward_id: str, count: int) -> None:
    from core.inputs import CodeUpload  # noqa: PLC0415
    from core.inventory import upload_codes  # noqa: PLC0415

    codes = [f"{reward_id}-more-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    with db.transaction() as session:
        upload_codes(session, principal=tenant.principal(), reward_id=reward_id,
                     upload=CodeUpload(codes=codes))  # fmt: skip


def test_a_claim_failing_alone_on_every_attempt_ends_processing_failed(
    runtime: Runtime, tenant: TestTenant
) -> None:
    """After COFFER_CLAIM_MAX_ATTEMPTS isolated failures the claim ends `failed` with
    processing_failed (500), nothing allocated or debited, and its key replays that."""
    db = runtime.db
    poison = f"doomed-{uuid.uuid4().hex[:8]}"
    reward_id = new_reward(db, tenant, codes=3, points_cost=10)
    credit(db, tenant, poison, 100)
    recorded: list[list[Any]] = []

    class Stats:
        def record(self, outcomes: list[Any]) -> None:
            recorded.append([o.label for o in outcomes])

    with facts_refused_for(db, poison):
        claim_id = accept(db, tenant, reward_id, poison, deduct=True, key=poison).resource_id
        drain = Drain(db, PolledOutcomes(db), batch_size=10, max_attempts=3,
                      set_aside=SetAside(0), stats=Stats())  # fmt: skip
        report = drain.run()  # no quarantine: it retries the claim until it ends
    assert report.set_aside == [outcomes_pk(db, claim_id)] * 2  # attempts 1 and 2
    assert report.decided == 1  # attempt 3 ended it
    status, body = outcomes(db, [claim_id or ""])[claim_id or ""]
    assert status == "failed"
    assert (body["code"], body["status"]) == ("processing_failed", 500)
    assert recorded[-1] == ["processing_failed"]
    assert balance_and_ledger(db, tenant, poison) == (100, 100)
    with db.transaction() as session:
        claim = session.scalar(select(Claim).where(Claim.claim_id == claim_id))
        assert claim is not None
        assert (claim.attempts, claim.code_id, claim.error_code) == (3, None, "processing_failed")
        assert session.get(Inventory, reward_id).allocated_count == 0  # type: ignore[union-attr]
    replay = accept(db, tenant, reward_id, poison, deduct=True, key=poison)
    assert (replay.fresh, replay.response_status) == (False, 500)
    Drain(db, PolledOutcomes(db), batch_size=10).run()  # nothing pending is left for it
    assert outcomes(db, [claim_id or ""])[claim_id or ""][0] == "failed"


def test_a_succeeded_claim_has_no_error_in_sql(runtime: Runtime, tenant: TestTenant) -> None:
    """An unset problem is SQL NULL (not the JSON text 'null'), so `error IS NULL` holds."""
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=1)
    ids = [accept(db, tenant, reward_id, f"n-{n}").resource_id for n in range(2)]
    drain_all(db)
    with db.transaction() as session:
        rows = session.execute(
            text("SELECT status, error IS NULL FROM claims WHERE claim_id = ANY(:ids)"),
            {"ids": ids},
        ).all()
    assert sorted(rows) == [("failed", False), ("succeeded", True)]
