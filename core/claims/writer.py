"""Persisting a batch's decisions: claim rows, codes, ledger, facts and stored responses.

Every statement runs on the session's Core connection: through Session.execute
SQLAlchemy routes writes into its ORM bulk path, per-call work a batch does not
need. Each noun's rows are written by its own module; this one only calls them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from core import allocation, facts, idempotency, points, stock_alerts
from core.claims.outcome import Outcome
from core.claims.planner import Decision, Grant, Refusal
from core.claims.responses import claimed_fact, succeeded_body
from core.claims.state import InventoryState, ParticipantState
from core.db import pipelined
from core.models import Claim

_DECIDED_COLUMNS = (
    "status", "decided_at", "participant_id", "code_id", "code_value", "reward_name",
    "reward_type", "points_deducted", "new_balance", "claimed_at", "expires_at",
    "fulfillment_status", "error_code", "error",
)  # fmt: skip
_DECIDE = (
    update(Claim)
    .where(Claim.id == bindparam("pk"))
    .values({name: bindparam(f"v_{name}") for name in _DECIDED_COLUMNS})
)


def write(
    session: Session,
    decisions: list[Decision],
    inventories: dict[str, InventoryState],
    participants: Iterable[ParticipantState],
    now: datetime,
) -> list[Outcome]:
    """Write every decision of a batch; returns the outcomes in decision order."""
    grants = [d for d in decisions if isinstance(d, Grant)]
    codes = allocation.codes_for(session, grants)
    outcomes, claim_rows, ledger, new_facts = [], [], [], []
    for decision in decisions:
        if isinstance(decision, Refusal):
            outcome = _refused(decision)
            claim_rows.append(_failed_row(decision, outcome, now))
        else:
            code_id, code_value = codes[decision.claim.claim_pk]
            outcome = _granted(decision, code_value)
            claim_rows.append(_succeeded_row(decision, code_id, code_value, now))
            new_facts.extend(_facts_of(decision, outcome, inventories, now))
            if decision.points_deducted:
                ledger.append(_debit(decision, now))
        outcomes.append(outcome)
    # Six writes, none reading another's result: one round trip instead of six.
    with pipelined(session):
        points.save(session, participants, ledger)
        allocation.save_counters(session, _changed(inventories.values(), grants))
        session.connection().execute(_DECIDE, claim_rows)
        facts.append(session, new_facts)
        idempotency.complete_many(
            session, [(o.record_id, o.response_status, o.body) for o in outcomes]
        )
    return outcomes


def _facts_of(
    grant: Grant, outcome: Outcome, inventories: dict[str, InventoryState], now: datetime
) -> list[dict[str, Any]]:
    claimed = facts.fact(
        tenant_id=grant.claim.tenant_id,
        mode=grant.claim.mode,
        type_="reward.reward_claimed",
        data=claimed_fact(outcome.body),
        at=now,
    )
    if grant.source == "reference":  # a multiplier takes no code: no stock alert
        return [claimed]
    stock = inventories[grant.reward.id]
    alerts = stock_alerts.after_allocation(
        grant.reward, stock, available=grant.available_after, at=now
    )
    return [claimed, *alerts]


def _changed(inventories: Iterable[InventoryState], grants: list[Grant]) -> list[InventoryState]:
    touched = {g.reward.id for g in grants}
    return [i for i in inventories if i.reward_id in touched]


def _granted(grant: Grant, code_value: str) -> Outcome:
    claim = grant.claim
    body = succeeded_body(
        claim_id=claim.claim_id,
        participant_id=claim.participant_external_id,
        reward_id=grant.reward.id,
        reward_name=grant.reward.name,
        reward_type=grant.reward.type,
        code_value=code_value,
        claimed_at=grant.claimed_at,
        expires_at=grant.expires_at,
        points_deducted=grant.points_deducted,
        new_balance=grant.new_balance,
    )
    return Outcome(
        claim.claim_id, claim.claim_pk, claim.idempotency_record_id, "succeeded", 201, body,
        claim.request_id, None, claim.accepted_at,
    )  # fmt: skip


def _refused(refusal: Refusal) -> Outcome:
    claim, error = refusal.claim, refusal.error
    return Outcome(
        claim.claim_id, claim.claim_pk, claim.idempotency_record_id, "failed", error.status,
        error.problem(), claim.request_id, error.code, claim.accepted_at,
    )  # fmt: skip


def _succeeded_row(
    grant: Grant, code_id: int | None, code_value: str, now: datetime
) -> dict[str, Any]:
    return _row(
        grant.claim.claim_pk,
        status="succeeded",
        decided_at=now,
        participant_id=grant.participant.pk,
        code_id=code_id,
        code_value=code_value,
        reward_name=grant.reward.name,
        reward_type=grant.reward.type,
        points_deducted=grant.points_deducted,
        new_balance=grant.new_balance,
        claimed_at=grant.claimed_at,
        expires_at=grant.expires_at,
        fulfillment_status="pending" if grant.reward.fulfillment_endpoint_id else "not_required",
    )


def _failed_row(refusal: Refusal, outcome: Outcome, now: datetime) -> dict[str, Any]:
    return _row(
        refusal.claim.claim_pk,
        status="failed",
        decided_at=now,
        error_code=outcome.error_code,
        error=outcome.body,
    )


def _row(pk: int, **values: Any) -> dict[str, Any]:
    """One executemany row of `_DECIDE`: every decided column, None where not given."""
    return {"pk": pk, **{f"v_{name}": values.get(name) for name in _DECIDED_COLUMNS}}


def _debit(grant: Grant, now: datetime) -> dict[str, Any]:
    return points.entry(
        tenant_id=grant.claim.tenant_id,
        mode=grant.claim.mode,
        participant_pk=grant.participant.pk,
        amount=-grant.points_deducted,
        kind="claim_debit",
        reason=grant.reward.name,
        claim_id=grant.claim.claim_id,
        balance_after=grant.new_balance,
        at=now,
    )
