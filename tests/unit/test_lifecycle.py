"""The reward lifecycle rule in Python and as SQL give the same answers (CONTRACT §4)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from core.lifecycle import has_status, is_active, status_of
from core.models import Base, Reward

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
MOMENTS = (None, NOW - timedelta(days=1), NOW, NOW + timedelta(days=1))


def test_status_of_orders_deactivation_then_expiry_then_schedule() -> None:
    def status(**fields: object) -> str:
        window = {"deactivated_at": None, "starts_at": None, "expires_at": None, **fields}
        return status_of(SimpleNamespace(**window), NOW)  # type: ignore[arg-type]

    assert status() == "active"
    assert status(deactivated_at=NOW, expires_at=NOW) == "inactive"
    assert status(expires_at=NOW) == "expired"  # now >= expires_at
    assert status(starts_at=NOW + timedelta(seconds=1)) == "scheduled"
    assert status(starts_at=NOW) == "active"


def _every_window(session: Session) -> None:
    """A reward for each combination of deactivated, starts_at and expires_at."""
    combos = list(itertools.product(MOMENTS[:2], MOMENTS, MOMENTS))
    for n, (deactivated, starts, expires) in enumerate(combos):
        session.add(
            Reward(
                id=f"rwd_{n}",
                tenant_id="t",
                mode="live",
                name="r",
                type="coupon",
                max_claims_per_user=1,
                deactivated_at=deactivated,
                starts_at=starts,
                expires_at=expires,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    session.commit()


def test_each_status_predicate_selects_exactly_the_rewards_of_that_status() -> None:
    """The admin listing's `status` filter (docs/api-extensions.md) is the same rule."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        _every_window(session)
        rewards = list(session.scalars(select(Reward)))
        for status in ("active", "scheduled", "expired", "inactive"):
            selected = set(session.scalars(select(Reward.id).where(has_status(status, NOW))))
            expected = {r.id for r in rewards if status_of(r, NOW) == status}
            assert selected == expected and selected, status


def test_the_sql_predicate_lists_exactly_the_active_rewards() -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        combos = list(itertools.product(MOMENTS[:2], MOMENTS, MOMENTS))
        for n, (deactivated, starts, expires) in enumerate(combos):
            session.add(
                Reward(
                    id=f"rwd_{n}",
                    tenant_id="t",
                    mode="live",
                    name="r",
                    type="coupon",
                    max_claims_per_user=1,
                    deactivated_at=deactivated,
                    starts_at=starts,
                    expires_at=expires,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        session.commit()
        listed = set(session.scalars(select(Reward.id).where(is_active(NOW))))
        expected = {
            reward.id
            for reward in session.scalars(select(Reward))
            if status_of(reward, NOW) == "active"
        }
    assert listed == expected and listed  # some are active, and the two rules agree
