"""One batch of pending claims, decided and written in one transaction.

Every statement runs on the session's Core connection: through Session.execute
SQLAlchemy routes inserts into its ORM bulk path, per-call work the batch does
not need (a few percent of the worker's CPU at small batches).

Lock order (every writer of these rows follows it, so batches never deadlock):
pending requests (SKIP LOCKED: a batch never waits for another's requests),
then inventories by reward id, then participants by row id. Codes are found by
their position in upload order, so allocation needs no scan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.claims.codes import generate_code
from core.claims.planner import ClaimPlanner, Decision, Grant, Refusal
from core.claims.responses import claimed_fact, succeeded_body
from core.claims.state import InventoryState, ParticipantState, PendingClaim, RewardState
from core.clock import utcnow
from core.ids import new_id
from core.models import (
    Claim,
    Fact,
    IdempotentRequest,
    Inventory,
    LedgerEntry,
    Participant,
    Reward,
    RewardCode,
)

_GENERATION_ATTEMPTS = 5


class MissingParticipants(Exception):
    """The batch names participants with no row yet; create them and run the batch again."""

    def __init__(self, keys: list[tuple[str, str, str]]) -> None:
        super().__init__(f"{len(keys)} participant(s) to create")
        self.keys = keys


@dataclass(frozen=True)
class Outcome:
    """A decided claim, as the waiting API request will answer it."""

    claim_id: str
    request_pk: int
    status: str
    response_status: int
    body: dict[str, Any]
    trace_id: str | None
    error_code: str | None
    accepted_at: datetime

    @property
    def label(self) -> str:
        """The outcome as a metrics label: `succeeded` or the error code."""
        return self.error_code or self.status


def lock_pending(
    session: Session, *, limit: int, exclude: Sequence[int] = ()
) -> list[PendingClaim]:
    """The oldest pending claims no other worker holds, locked for this transaction."""
    query = (
        select(
            IdempotentRequest.id.label("request_pk"),
            IdempotentRequest.claim_id,
            IdempotentRequest.tenant_id,
            IdempotentRequest.mode,
            IdempotentRequest.reward_id,
            IdempotentRequest.participant_external_id,
            IdempotentRequest.points_deduction,
            IdempotentRequest.idempotency_key,
            IdempotentRequest.trace_id,
            IdempotentRequest.created_at,
        )
        .where(IdempotentRequest.status == "pending", IdempotentRequest.kind == "claim")
        .order_by(IdempotentRequest.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if exclude:
        query = query.where(IdempotentRequest.id.not_in(exclude))
    return [PendingClaim(**row._mapping) for row in session.connection().execute(query)]


def decide_and_write(
    session: Session, claims: list[PendingClaim], *, now: datetime
) -> list[Outcome]:
    """Lock what the claims touch, decide each in order, and write every change."""
    rewards, inventories = _lock_rewards(session, {c.reward_id for c in claims})
    participants = _lock_participants(session, {c.participant_key for c in claims})
    holdings = _holdings(session, participants.values(), rewards)
    planner = ClaimPlanner(
        rewards=rewards,
        inventories=inventories,
        participants=participants,
        holdings=holdings,
        now=now,
    )
    decisions = [planner.decide(claim) for claim in claims]
    return _write(session, decisions, inventories, participants, now)


def ensure_participants(session: Session, keys: Iterable[tuple[str, str, str]]) -> None:
    """Create participant rows (balance 0) in key order, so concurrent creators never deadlock."""
    insert_ = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    rows = [
        {"tenant_id": t, "mode": m, "external_id": e, "balance": 0, "created_at": utcnow()}
        for t, m, e in sorted(set(keys))
    ]
    statement = insert_(Participant).values(rows)
    statement = statement.on_conflict_do_nothing(
        index_elements=["tenant_id", "mode", "external_id"]
    )
    session.connection().execute(statement)


def _lock_participants(
    session: Session, keys: set[tuple[str, str, str]]
) -> dict[tuple[str, str, str], ParticipantState]:
    """Lock the batch's participants: one `external_id IN (...)` per tenant and mode (usually
    one), which PostgreSQL plans far faster than a row-value IN of the same length."""
    by_scope: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for tenant_id, mode, external_id in sorted(keys):
        by_scope[(tenant_id, mode)].append(external_id)
    found = {}
    for (tenant_id, mode), external_ids in sorted(by_scope.items()):
        query = (
            select(Participant.id, Participant.external_id, Participant.balance)
            .where(
                Participant.tenant_id == tenant_id,
                Participant.mode == mode,
                Participant.external_id.in_(external_ids),
            )
            .order_by(Participant.id)
            .with_for_update()
        )
        for row in session.connection().execute(query):
            found[(tenant_id, mode, row.external_id)] = ParticipantState(
                row.id, row.external_id, row.balance
            )
    missing = sorted(keys - found.keys())
    if missing:
        raise MissingParticipants(missing)
    return found


def _holdings(
    session: Session, participants: Iterable[ParticipantState], rewards: dict[str, RewardState]
) -> dict[tuple[int, str], int]:
    pks = [p.pk for p in participants]
    rows = session.connection().execute(
        select(Claim.participant_id, Claim.reward_id, func.count())
        .where(Claim.participant_id.in_(pks), Claim.reward_id.in_(list(rewards)))
        .group_by(Claim.participant_id, Claim.reward_id)
    )
    return {(pk, reward_id): count for pk, reward_id, count in rows}


def _write(
    session: Session,
    decisions: list[Decision],
    inventories: dict[str, InventoryState],
    participants: dict[tuple[str, str, str], ParticipantState],
    now: datetime,
) -> list[Outcome]:
    grants = [d for d in decisions if isinstance(d, Grant)]
    codes = _codes_for(session, grants)
    outcomes: list[Outcome] = []
    claims, ledger, facts = [], [], []
    for decision in decisions:
        if isinstance(decision, Refusal):
            outcomes.append(_refused(decision))
            continue
        code_id, code_value = codes[decision.claim.request_pk]
        body = _succeeded(decision, code_value)
        outcomes.append(_granted(decision, body))
        claims.append(_claim_row(decision, code_id, code_value))
        facts.append(_fact_row(decision.claim, "reward.reward_claimed", claimed_fact(body), now))
        if decision.points_deducted:
            ledger.append(_debit_row(decision, now))
    facts.extend(_low_stock_facts(decisions, inventories, now))
    _update_balances(session, participants.values())
    _update_inventories(session, inventories.values())
    for model, rows in ((Claim, claims), (LedgerEntry, ledger), (Fact, facts)):
        if rows:
            session.connection().execute(insert(model), rows)
    _complete_requests(session, outcomes, now)
    return outcomes


def _codes_for(session: Session, grants: list[Grant]) -> dict[int, tuple[int, str]]:
    """Code id and value for each grant: pool positions looked up, the rest generated."""
    positions: dict[str, list[Grant]] = defaultdict(list)
    for grant in grants:
        if grant.seq is not None:
            positions[grant.reward.id].append(grant)
    found: dict[int, tuple[int, str]] = {}
    for reward_id, pool_grants in positions.items():
        seqs = [g.seq for g in pool_grants if g.seq is not None]
        rows = session.connection().execute(
            select(RewardCode.seq, RewardCode.id, RewardCode.value).where(
                RewardCode.reward_id == reward_id, RewardCode.seq.between(min(seqs), max(seqs))
            )
        )
        by_seq = {seq: (code_id, value) for seq, code_id, value in rows}
        for grant in pool_grants:
            found[grant.claim.request_pk] = by_seq[grant.seq]
    found.update(_generate_codes(session, [g for g in grants if g.seq is None]))
    return found


def _generate_codes(session: Session, grants: list[Grant]) -> dict[int, tuple[int, str]]:
    insert_ = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    found: dict[int, tuple[int, str]] = {}
    for grant in grants:
        reward = grant.reward
        for _ in range(_GENERATION_ATTEMPTS):  # a collision is ~1e-12 likely; retry it anyway
            value = generate_code(reward.code_prefix, reward.code_length or 8)
            code_id = (
                session.connection()
                .execute(
                    insert_(RewardCode)
                    .values(
                        tenant_id=reward.tenant_id,
                        mode=reward.mode,
                        reward_id=reward.id,
                        value=value,
                        seq=None,
                        created_at=grant.claimed_at,
                    )
                    .on_conflict_do_nothing(index_elements=["reward_id", "value"])
                    .returning(RewardCode.id)
                )
                .scalar_one_or_none()
            )
            if code_id is not None:
                found[grant.claim.request_pk] = (code_id, value)
                break
        else:
            raise RuntimeError(f"could not generate a unique code for reward {reward.id}")
    return found


def _succeeded(grant: Grant, code_value: str) -> dict[str, Any]:
    return succeeded_body(
        claim_id=grant.claim.claim_id,
        participant_id=grant.claim.participant_external_id,
        reward_id=grant.reward.id,
        reward_name=grant.reward.name,
        reward_type=grant.reward.type,
        code_value=code_value,
        claimed_at=grant.claimed_at,
        expires_at=grant.expires_at,
        points_deducted=grant.points_deducted,
        new_balance=grant.new_balance,
    )


def _granted(grant: Grant, body: dict[str, Any]) -> Outcome:
    claim = grant.claim
    return Outcome(
        claim.claim_id,
        claim.request_pk,
        "succeeded",
        201,
        body,
        claim.trace_id,
        None,
        claim.created_at,
    )


def _refused(refusal: Refusal) -> Outcome:
    claim, error = refusal.claim, refusal.error
    return Outcome(
        claim.claim_id,
        claim.request_pk,
        "failed",
        error.status,
        error.problem(),
        claim.trace_id,
        error.code,
        claim.created_at,
    )


def _claim_row(grant: Grant, code_id: int, code_value: str) -> dict[str, Any]:
    claim = grant.claim
    return {
        "claim_id": claim.claim_id,
        "request_id": claim.request_pk,
        "tenant_id": claim.tenant_id,
        "mode": claim.mode,
        "reward_id": grant.reward.id,
        "participant_id": grant.participant.pk,
        "participant_external_id": claim.participant_external_id,
        "code_id": code_id,
        "code_value": code_value,
        "reward_name": grant.reward.name,
        "reward_type": grant.reward.type,
        "points_deducted": grant.points_deducted,
        "new_balance": grant.new_balance,
        "idempotency_key": claim.idempotency_key,
        "claimed_at": grant.claimed_at,
        "expires_at": grant.expires_at,
    }


def _debit_row(grant: Grant, now: datetime) -> dict[str, Any]:
    claim = grant.claim
    return {
        "entry_id": new_id("pte"),
        "tenant_id": claim.tenant_id,
        "mode": claim.mode,
        "participant_id": grant.participant.pk,
        "amount": -grant.points_deducted,
        "kind": "claim_debit",
        "reason": grant.reward.name,
        "claim_id": claim.claim_id,
        "balance_after": grant.new_balance,
        "created_at": now,
    }


def _fact_row(
    claim: PendingClaim, type_: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "event_id": new_id("evt"),
        "tenant_id": claim.tenant_id,
        "mode": claim.mode,
        "type": type_,
        "data": data,
        "created_at": now,
    }


def _low_stock_facts(
    decisions: list[Decision], inventories: dict[str, InventoryState], now: datetime
) -> list[dict[str, Any]]:
    """`reward.inventory_low` once, when available codes cross below the threshold."""
    facts = []
    for grant in (d for d in decisions if isinstance(d, Grant)):
        reward, inventory = grant.reward, inventories[grant.reward.id]
        threshold = reward.low_stock_threshold
        if threshold is None or inventory.low_stock_notified or reward.code_length is not None:
            continue
        if inventory.available < threshold:
            inventory.low_stock_notified = True
            data = {
                "reward_id": reward.id,
                "reward_name": reward.name,
                "available_codes": inventory.available,
                "low_stock_threshold": threshold,
            }
            facts.append(_fact_row(grant.claim, "reward.inventory_low", data, now))
    return facts


def _update_balances(session: Session, participants: Iterable[ParticipantState]) -> None:
    changed = [
        {"pk": p.pk, "new_balance": p.balance}
        for p in participants
        if p.balance != p.balance_before
    ]
    if changed:
        session.connection().execute(
            update(Participant)
            .where(Participant.id == bindparam("pk"))
            .values(balance=bindparam("new_balance")),
            changed,
        )


def _update_inventories(session: Session, inventories: Iterable[InventoryState]) -> None:
    changed = [
        {"rid": i.reward_id, "allocated": i.allocated_count, "notified": i.low_stock_notified}
        for i in inventories
        if i.allocated_count != i.allocated_before
    ]
    if changed:
        session.connection().execute(
            update(Inventory)
            .where(Inventory.reward_id == bindparam("rid"))
            .values(
                allocated_count=bindparam("allocated"), low_stock_notified=bindparam("notified")
            ),
            changed,
        )


def _complete_requests(session: Session, outcomes: list[Outcome], now: datetime) -> None:
    session.connection().execute(
        update(IdempotentRequest)
        .where(IdempotentRequest.id == bindparam("pk"))
        .values(
            status=bindparam("new_status"),
            response_status=bindparam("code"),
            response_body=bindparam("body"),
            completed_at=now,
        ),
        [
            {"pk": o.request_pk, "new_status": o.status, "code": o.response_status, "body": o.body}
            for o in outcomes
        ],
    )


def _lock_rewards(
    session: Session, reward_ids: set[str]
) -> tuple[dict[str, RewardState], dict[str, InventoryState]]:
    """The batch's rewards, with their inventory rows locked in reward id order."""
    reward_columns = [getattr(Reward, name) for name in RewardState.__dataclass_fields__]
    query = (
        select(
            *reward_columns,
            Inventory.uploaded_count,
            Inventory.allocated_count,
            Inventory.low_stock_notified,
        )
        .join(Inventory, Inventory.reward_id == Reward.id)
        .where(Reward.id.in_(sorted(reward_ids)))
        .order_by(Reward.id)
        .with_for_update(of=Inventory)
    )
    rewards, inventories = {}, {}
    width = len(reward_columns)
    for row in session.connection().execute(query):
        reward = RewardState(*row[:width])
        rewards[reward.id] = reward
        inventories[reward.id] = InventoryState(reward.id, *row[width:])
    return rewards, inventories
