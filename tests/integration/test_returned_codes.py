"""Codes that come back: reversals with restock on PostgreSQL, under races.

A returned code is offered again before never-used codes, and the database
itself (uq_claims_held_code) refuses any code held by two live claims.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from core.claims.reversal import reverse_claim
from core.errors import CofferError
from core.idempotency import Recorded
from core.inputs import ReversalBody
from core.models import Claim, ClaimReversal, Fact, Inventory
from core.runtime import Runtime
from tests.integration.test_claim_batches import error_codes
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
from tests.support.tenants import TestTenant


def reverse(
    runtime: Runtime, tenant: TestTenant, claim_id: str, *, restock: bool, key: str | None = None
) -> Recorded:
    with runtime.db.transaction() as session:
        return reverse_claim(
            session, principal=tenant.principal(), claim_id=claim_id,
            body=ReversalBody(reason="test", restock=restock), key=key or uuid.uuid4().hex,
            print_=uuid.uuid4().hex if key is None else key,
        )  # fmt: skip


def claimed(runtime: Runtime, tenant: TestTenant, reward_id: str, who: str, **kw: Any) -> str:
    claim_id = accept(runtime.db, tenant, reward_id, who, **kw).resource_id or ""
    drain_all(runtime.db)
    assert outcomes(runtime.db, [claim_id])[claim_id][0] == "succeeded"
    return claim_id


def test_restocked_codes_go_out_first_oldest_first_then_the_unused_ones(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=4)
    first, second = (claimed(runtime, tenant, reward_id, f"early-{n}") for n in range(2))
    reverse(runtime, tenant, second, restock=True)
    reverse(runtime, tenant, first, restock=True)
    ids = [accept(db, tenant, reward_id, f"late-{n}").resource_id or "" for n in range(5)]
    drain_all(db)
    results = outcomes(db, ids)
    codes = [results[i][1].get("code_value") for i in ids]
    assert codes[:4] == [f"{reward_id}-000000{n}" for n in (2, 1, 3, 4)]
    assert results[ids[4]][1]["code"] == "inventory_exhausted"
    with db.transaction() as session:
        inventory = session.get(Inventory, reward_id)
        assert inventory is not None
        assert (inventory.allocated_count, inventory.returned_count) == (4, 0)


def test_a_returned_code_raced_for_by_many_claims_goes_to_exactly_one(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=1)
    holder = claimed(runtime, tenant, reward_id, "holder")
    reverse(runtime, tenant, holder, restock=True)
    with draining(db), ThreadPoolExecutor(12) as pool:
        ids = list(
            pool.map(lambda n: accept(db, tenant, reward_id, f"r{n}").resource_id, range(60))
        )

    assert error_codes(outcomes(db, ids)) == {"succeeded": 1, "inventory_exhausted": 59}
    assert [row.code_value for row in claim_rows(db, reward_id)] == [f"{reward_id}-0000001"]


def test_two_reversals_at_once_refund_once(runtime: Runtime, tenant: TestTenant) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=2, points_cost=400)
    credit(db, tenant, "twice", 400)
    claim_id = claimed(runtime, tenant, reward_id, "twice", deduct=True)
    barrier = threading.Barrier(6)

    def race(_: int) -> int:
        barrier.wait()
        return reverse(runtime, tenant, claim_id, restock=True).response_status or 0

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(race, range(6)))

    assert statuses == [200] * 6
    assert balance_and_ledger(db, tenant, "twice") == (400, 400)
    with db.transaction() as session:
        reversals = session.scalar(
            select(func.count())
            .select_from(ClaimReversal)
            .join(Claim)
            .where(Claim.claim_id == claim_id)
        )
        facts = session.scalar(
            select(func.count())
            .select_from(Fact)
            .where(Fact.tenant_id == tenant.id, Fact.type == "reward.claim_reversed")
        )
        inventory = session.get(Inventory, reward_id)
    assert (reversals, facts) == (1, 1)
    assert inventory is not None and inventory.returned_count == 1


def test_the_database_refuses_a_code_held_by_two_live_claims(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=2, max_claims_per_user=2)
    one, other = (claimed(runtime, tenant, reward_id, "pair") for _ in range(2))
    with db.transaction() as session:
        code_of_one = session.scalar(select(Claim.code_id).where(Claim.claim_id == one))
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.execute(update(Claim).where(Claim.claim_id == other).values(code_id=code_of_one))
    # Once the first holder is reversed its code may be held again.
    reverse(runtime, tenant, one, restock=False)
    with db.transaction() as session:
        session.execute(update(Claim).where(Claim.claim_id == other).values(code_id=code_of_one))


def test_a_reversed_claim_frees_its_slot_under_the_per_user_limit(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=5, max_claims_per_user=1)
    first = claimed(runtime, tenant, reward_id, "limited")
    refused = accept(db, tenant, reward_id, "limited").resource_id or ""
    drain_all(db)
    assert outcomes(db, [refused])[refused][1]["code"] == "max_claims_exceeded"
    reverse(runtime, tenant, first, restock=False)
    claimed(runtime, tenant, reward_id, "limited")


def test_only_succeeded_claims_reverse(runtime: Runtime, tenant: TestTenant) -> None:
    db = runtime.db
    reward_id = new_reward(db, tenant, codes=1)
    pending = accept(db, tenant, reward_id, "waiting").resource_id or ""
    with pytest.raises(CofferError) as refused:
        reverse(runtime, tenant, pending, restock=True)
    assert refused.value.code == "claim_not_reversible"
