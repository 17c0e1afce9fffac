"""Points on PostgreSQL: racing credits, idempotency under concurrency, and an exact ledger."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from core.idempotency import fingerprint
from core.inputs import PointsCredit
from core.models import IdempotencyRecord, LedgerEntry, Participant
from core.points import credit_points, points_summary
from core.runtime import Runtime
from tests.support.tenants import TestTenant

THREADS = 16
ATTEMPTS = 200
DISTINCT_KEYS = 120


def path_of(participant: str) -> str:
    return f"/api/v1/gamify/participants/{participant}/points"


def credit_once(
    runtime: Runtime,
    tenant: TestTenant,
    participant: str,
    key: str,
    *,
    amount: int,
    reason: str,
) -> tuple[str, dict[str, Any], bool]:
    """One credit in its own transaction, as the API makes it: (key, response body, fresh)."""
    credit = PointsCredit(amount=amount, reason=reason)
    print_ = fingerprint("POST", path_of(participant), credit.model_dump())
    with runtime.db.transaction() as session:
        recorded = credit_points(
            session,
            principal=tenant.principal(),
            external_id=participant,
            credit=credit,
            key=key,
            print_=print_,
        )
    assert recorded.response_body is not None
    return key, recorded.response_body, recorded.fresh


def ledger_rows(runtime: Runtime, tenant: TestTenant, participant: str) -> list[LedgerEntry]:
    with runtime.db.transaction() as session:
        return list(
            session.scalars(
                select(LedgerEntry)
                .join(Participant, Participant.id == LedgerEntry.participant_id)
                .where(Participant.tenant_id == tenant.id, Participant.external_id == participant)
                .order_by(LedgerEntry.id)
            )
        )


def participant_rows(runtime: Runtime, tenant: TestTenant, participant: str) -> list[Any]:
    with runtime.db.transaction() as session:
        return list(
            session.execute(
                select(Participant.id, Participant.balance).where(
                    Participant.tenant_id == tenant.id, Participant.external_id == participant
                )
            )
        )


def test_racing_credits_with_shared_keys_credit_each_key_exactly_once(
    runtime: Runtime, tenant: TestTenant
) -> None:
    participant = f"racer-{uuid.uuid4().hex}"
    rng = random.Random(uuid.uuid4().int)
    amounts = {f"race-{uuid.uuid4().hex}": rng.randint(1, 1000) for _ in range(DISTINCT_KEYS)}
    keys = list(amounts)
    attempts = keys + [rng.choice(keys) for _ in range(ATTEMPTS - DISTINCT_KEYS)]
    rng.shuffle(attempts)
    go = threading.Event()

    def attempt(key: str) -> tuple[str, dict[str, Any], bool]:
        go.wait(timeout=30)  # the first wave of threads starts together
        return credit_once(
            runtime, tenant, participant, key, amount=amounts[key], reason=f"for {key}"
        )

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(attempt, key) for key in attempts]
        go.set()
        results = [future.result() for future in futures]

    # Exactly one attempt per key acted; every other attempt replayed its answer.
    fresh = Counter(key for key, _, was_fresh in results if was_fresh)
    assert fresh == Counter(keys)
    bodies: dict[str, set[str]] = defaultdict(set)
    for key, body, _ in results:
        bodies[key].add(body["entry_id"])
    assert all(len(entry_ids) == 1 for entry_ids in bodies.values())

    # The balance is the sum of the distinct credits and of the ledger, one entry per key.
    expected = sum(amounts.values())
    (row,) = participant_rows(runtime, tenant, participant)
    entries = ledger_rows(runtime, tenant, participant)
    assert row.balance == expected
    assert sum(entry.amount for entry in entries) == expected
    assert len(entries) == DISTINCT_KEYS
    assert {entry.entry_id for entry in entries} == {ids.pop() for ids in bodies.values()}
    assert Counter(entry.reason for entry in entries) == Counter(f"for {key}" for key in keys)

    # Credits were serialized: each entry's balance_after is the running sum.
    running = 0
    for entry in entries:
        running += entry.amount
        assert entry.balance_after == running
    assert running == expected


def test_racing_first_credits_create_one_participant(runtime: Runtime, tenant: TestTenant) -> None:
    participant = f"newcomer-{uuid.uuid4().hex}"
    start = threading.Barrier(THREADS)

    def attempt(n: int) -> tuple[str, dict[str, Any], bool]:
        start.wait(timeout=30)
        return credit_once(
            runtime, tenant, participant, f"first-{uuid.uuid4().hex}", amount=10, reason=str(n)
        )

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(attempt, range(THREADS)))

    assert all(was_fresh for _, _, was_fresh in results)
    assert sorted(body["balance"] for _, body, _ in results) == [
        10 * n for n in range(1, THREADS + 1)
    ]
    (row,) = participant_rows(runtime, tenant, participant)
    assert row.balance == 10 * THREADS


def test_a_credit_whose_transaction_rolls_back_leaves_no_trace_and_no_used_key(
    runtime: Runtime, tenant: TestTenant
) -> None:
    participant, key = f"rollback-{uuid.uuid4().hex}", f"key-{uuid.uuid4().hex}"
    credit = PointsCredit(amount=50)
    print_ = fingerprint("POST", path_of(participant), credit.model_dump())

    class Abort(Exception):
        pass

    with pytest.raises(Abort), runtime.db.transaction() as session:
        credit_points(
            session,
            principal=tenant.principal(),
            external_id=participant,
            credit=credit,
            key=key,
            print_=print_,
        )
        raise Abort

    assert participant_rows(runtime, tenant, participant) == []
    with runtime.db.transaction() as session:
        used = session.scalar(
            select(func.count())
            .select_from(IdempotencyRecord)
            .where(
                IdempotencyRecord.tenant_id == tenant.id, IdempotencyRecord.idempotency_key == key
            )
        )
    assert used == 0
    _, body, fresh = credit_once(runtime, tenant, participant, key, amount=50, reason="")
    assert fresh
    assert body["balance"] == 50


def test_the_summary_lists_the_newest_entries_first_up_to_its_limit(
    runtime: Runtime, tenant: TestTenant
) -> None:
    participant = f"reader-{uuid.uuid4().hex}"
    for amount in (1, 2, 3, 4):
        credit_once(
            runtime,
            tenant,
            participant,
            f"k-{uuid.uuid4().hex}",
            amount=amount,
            reason=f"r{amount}",
        )

    with runtime.db.transaction() as session:
        summary = points_summary(
            session, principal=tenant.principal(), external_id=participant, limit=2
        )

    assert summary.balance == 10  # the balance counts every entry, not just those shown
    assert [(e.amount, e.balance_after) for e in summary.entries] == [(4, 10), (3, 6)]


def test_the_summary_never_shows_another_modes_entries(
    runtime: Runtime, tenant: TestTenant
) -> None:
    participant = f"moded-{uuid.uuid4().hex}"
    credit_once(runtime, tenant, participant, f"k-{uuid.uuid4().hex}", amount=9, reason="live")

    with runtime.db.transaction() as session:
        test_mode = points_summary(
            session, principal=tenant.principal("test"), external_id=participant
        )

    assert test_mode.wire() == {"participant_id": participant, "balance": 0, "entries": []}


def test_the_database_refuses_a_negative_balance(runtime: Runtime, tenant: TestTenant) -> None:
    participant = f"floor-{uuid.uuid4().hex}"
    credit_once(runtime, tenant, participant, f"k-{uuid.uuid4().hex}", amount=5, reason="")

    with pytest.raises(IntegrityError), runtime.db.transaction() as session:
        session.execute(
            update(Participant)
            .where(Participant.tenant_id == tenant.id, Participant.external_id == participant)
            .values(balance=Participant.balance - 6)
        )

    ((_, balance),) = participant_rows(runtime, tenant, participant)
    assert balance == 5
