"""Points multipliers on PostgreSQL through the core (CONTRACT §7, docs/multipliers.md):
the rule on its own, campaigns gifting a multiplier, credits racing each other, and
`coffer check` staying silent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, select, text, update

from core import multipliers
from core.checks import run_checks
from core.clock import utcnow
from core.migrate import alembic_config, upgrade
from core.models import Claim, LedgerEntry, Participant
from core.runtime import Runtime, build_runtime
from core.settings import Settings
from tests.support.campaigns import run_to_end, start, view
from tests.support.claims import accept, balance_and_ledger, credit, drain_all, new_reward
from tests.support.services import fresh_database
from tests.support.tenants import TestTenant, make_tenant


def multiplier(runtime: Runtime, tenant: TestTenant, factor: float, days: int = 7) -> str:
    return new_reward(
        runtime.db,
        tenant,
        type="points_multiplier",
        multiplier={"factor": factor, "duration_days": days},
    )


def claimed(runtime: Runtime, tenant: TestTenant, reward_id: str, participant: str) -> str:
    claim_id = accept(runtime.db, tenant, reward_id, participant).resource_id
    drain_all(runtime.db)
    assert claim_id is not None
    return claim_id


def participant_pk(runtime: Runtime, tenant: TestTenant, participant: str) -> int:
    with runtime.db.transaction() as session:
        return session.scalars(  # type: ignore[no-any-return]
            select(Participant.id).where(
                Participant.tenant_id == tenant.id, Participant.external_id == participant
            )
        ).one()


def test_equal_factors_name_the_earliest_claim_and_nothing_applies_before_claimed_at(
    runtime: Runtime, tenant: TestTenant
) -> None:
    first_reward = multiplier(runtime, tenant, 2)
    second_reward = multiplier(runtime, tenant, 2)
    first = claimed(runtime, tenant, first_reward, "tie")
    claimed(runtime, tenant, second_reward, "tie")
    pk = participant_pk(runtime, tenant, "tie")

    with runtime.db.transaction() as session:
        now = multipliers.active(session, participant_pk=pk, at=utcnow())
        before = multipliers.active(session, participant_pk=pk, at=utcnow() - timedelta(hours=1))
    assert now is not None and (now.claim_id, now.factor) == (first, Decimal("2.00"))
    assert now.apply(7) == 14
    assert before is None
    assert multipliers.Activation("clm_x", Decimal("1.33")).apply(100) == 133
    assert multipliers.Activation("clm_x", Decimal("1.01")).apply(99) == 99  # 99.99 floors


def test_a_campaign_gifts_a_multiplier_without_codes_and_it_applies(
    runtime: Runtime, tenant: TestTenant
) -> None:
    reward_id = multiplier(runtime, tenant, 1.25, days=30)
    people = [f"gift-{n}" for n in range(5)]
    campaign_id = start(runtime.db, tenant, reward_id, people)
    run_to_end(runtime.db, campaign_id)

    final = view(runtime.db, campaign_id)
    assert (final["status"], final["succeeded"], final["failed"]) == ("completed", 5, 0)
    with runtime.db.transaction() as session:
        values = session.scalars(
            select(Claim.code_value).where(
                Claim.reward_id == reward_id, Claim.status == "succeeded"
            )
        ).all()
    assert len(set(values)) == 5 and all(v.startswith("MULT-") for v in values)
    for person in people:
        credit(runtime.db, tenant, person, 10)  # 12.5 -> 12
        assert balance_and_ledger(runtime.db, tenant, person) == (12, 12)


def test_racing_credits_are_each_multiplied_and_the_balance_is_the_ledger(
    runtime: Runtime, tenant: TestTenant
) -> None:
    reward_id = multiplier(runtime, tenant, 1.5)
    claimed(runtime, tenant, reward_id, "racer")
    errors: list[BaseException] = []

    def one() -> None:
        try:
            credit(runtime.db, tenant, "racer", 7)
        except BaseException as error:  # reported below: a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert balance_and_ledger(runtime.db, tenant, "racer") == (12 * 10, 12 * 10)
    with runtime.db.transaction() as session:
        bases = session.scalars(
            select(LedgerEntry.base_amount).where(
                LedgerEntry.participant_id == participant_pk(runtime, tenant, "racer")
            )
        ).all()
    assert bases == [7] * 12


@pytest.fixture
def private(settings: Settings) -> Iterator[Runtime]:
    """A database of its own, so other tests' deliberate leftovers do not count."""
    with fresh_database("mult") as url:
        upgrade(url)
        runtime = build_runtime(settings.model_copy(update={"database_url": url}))
        yield runtime
        runtime.close()


def test_multiplier_claims_credits_and_reversal_break_no_invariant(private: Runtime) -> None:
    tenant = make_tenant(private.db)
    reward_id = multiplier(private, tenant, 3, days=1)
    for n in range(3):
        claimed(private, tenant, reward_id, f"p{n}")
        credit(private.db, tenant, f"p{n}", 10)
    with private.db.transaction() as session:  # one activation long over
        session.execute(
            update(Claim)
            .where(Claim.participant_external_id == "p0")
            .values(claimed_at=utcnow() - timedelta(days=2))
        )
    credit(private.db, tenant, "p0", 10)

    assert balance_and_ledger(private.db, tenant, "p0") == (40, 40)
    with private.db.transaction() as session:
        assert run_checks(session, max_pending_age=timedelta(hours=1)) == []


def test_migration_0005_adds_nullable_columns_and_downgrades_cleanly(runtime: Runtime) -> None:
    with fresh_database("mult0005") as url:
        command.upgrade(alembic_config(url), "0004")
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO tenants (id, name, created_at) VALUES ('ten_m', 'Shop', now())"
                    )
                )
            command.upgrade(alembic_config(url), "0005")
            columns = {
                (c["name"], c["nullable"])
                for table in ("rewards", "ledger_entries")
                for c in inspect(engine).get_columns(table)
            }
            assert {
                ("multiplier_factor", True),
                ("multiplier_days", True),
                ("base_amount", True),
                ("multiplier_claim_id", True),
            } <= columns
            command.downgrade(alembic_config(url), "0004")
            names = {c["name"] for c in inspect(engine).get_columns("ledger_entries")}
            assert "base_amount" not in names and "multiplier_claim_id" not in names
            command.upgrade(alembic_config(url), "head")
            with engine.begin() as connection:
                assert connection.scalar(text("SELECT count(*) FROM tenants")) == 1
        finally:
            engine.dispose()
