"""Writes sent in psycopg pipeline mode (core.db.pipelined, used by the claim writer).

The claim batch's six writes go to PostgreSQL without waiting for each answer;
these tests hold the guarantees that rest on: everything queued lands with the
transaction, an error in any queued write surfaces before the commit and takes
the whole transaction with it, and the connection is fit for the next batch.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from core import facts
from core.clock import utcnow
from core.db import Database, is_transient, pipelined
from core.models import Fact
from core.runtime import Runtime
from tests.support.tenants import TestTenant


def _fact(tenant: TestTenant, event_id: str | None = None) -> dict[str, object]:
    row = facts.fact(
        tenant_id=tenant.id,
        mode="live",
        type_="reward.reward_claimed",
        data={"test": True},
        at=utcnow(),
    )
    if event_id is not None:
        row["event_id"] = event_id
    return row


def _count(runtime: Runtime, event_ids: list[str]) -> int:
    with runtime.db.transaction() as session:
        query = select(func.count()).select_from(Fact).where(Fact.event_id.in_(event_ids))
        return session.scalar(query) or 0


def test_queued_writes_land_with_the_transaction(runtime: Runtime, tenant: TestTenant) -> None:
    rows = [_fact(tenant) for _ in range(3)]
    with runtime.db.transaction() as session, pipelined(session):
        facts.append(session, rows[:1])
        facts.append(session, rows[1:])  # two statements queued, one round trip
    assert _count(runtime, [str(r["event_id"]) for r in rows]) == 3


def test_a_failing_queued_write_rolls_back_everything_queued_with_it(
    runtime: Runtime, tenant: TestTenant
) -> None:
    first = _fact(tenant)
    duplicate = f"evt_{uuid.uuid4().hex}"
    with runtime.db.transaction() as session:
        facts.append(session, [_fact(tenant, duplicate)])  # committed before the test
    with pytest.raises(IntegrityError), runtime.db.transaction() as session:
        with pipelined(session):
            facts.append(session, [first])
            facts.append(session, [_fact(tenant, duplicate)])  # unique event_id: refused
        pytest.fail("the error must surface when the pipelined block ends")
    assert _count(runtime, [str(first["event_id"])]) == 0
    assert _count(runtime, [duplicate]) == 1
    # The pooled connection left pipeline mode and serves the next transaction.
    with runtime.db.transaction() as session:
        assert session.execute(text("SELECT 1")).scalar_one() == 1


def test_a_nested_block_reads_normally_after_the_outer_writes(
    runtime: Runtime, tenant: TestTenant
) -> None:
    row = _fact(tenant)
    with runtime.db.transaction() as session:
        with pipelined(session):
            facts.append(session, [row])
        # Outside the block, reads work as ever and see the queued write.
        seen = session.scalar(
            select(func.count()).select_from(Fact).where(Fact.event_id == row["event_id"])
        )
    assert seen == 1


def test_a_connection_lost_at_the_sync_is_a_transient_error(
    runtime: Runtime, tenant: TestTenant
) -> None:
    """A drain retries database trouble instead of counting it against the claims: the
    error raised when the pipelined writes are synced must read as transient."""
    db = Database(runtime.settings.database_url, pool_size=1)
    row = _fact(tenant)
    try:
        with pytest.raises(DBAPIError) as raised, db.transaction() as session:
            backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with pipelined(session):
                facts.append(session, [row])
                with runtime.db.autocommit() as admin:
                    admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        assert is_transient(raised.value)
        assert _count(runtime, [str(row["event_id"])]) == 0
        # The pool drops the dead connection: the next transaction gets a live one.
        with db.transaction() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        db.dispose()
