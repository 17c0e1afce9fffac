"""Points: participants, their balances and the append-only ledger (CONTRACT §5).

The balance lives on the participant row (CHECK balance >= 0) and every change
to it appends a ledger entry carrying the balance after it, in one transaction.
Only this module writes the `participants` and `ledger_entries` tables: claims,
reversals and credits call it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from core import multipliers
from core.clock import utcnow
from core.db import insert_for
from core.idempotency import Recorded, complete, record
from core.ids import new_id
from core.inputs import PointsCredit
from core.models import LedgerEntry, Participant
from core.schemas import LedgerEntry as LedgerEntryShape
from core.schemas import PointsCredited, PointsSummary
from core.tenants import Principal

MAX_ENTRIES = 1000
EntryKind = Literal["credit", "claim_debit", "reversal_refund"]
ParticipantKey = tuple[str, str, str]  # (tenant_id, mode, external_id)


@dataclass
class Account:
    """A locked participant row: its balance as read, and as it stands after changes."""

    pk: int
    external_id: str
    balance: int
    balance_before: int = -1

    def __post_init__(self) -> None:
        self.balance_before = self.balance


class MissingParticipants(Exception):
    """Participants with no row yet; create them (`ensure_participants`) and try again."""

    def __init__(self, keys: list[ParticipantKey]) -> None:
        super().__init__(f"{len(keys)} participant(s) to create")
        self.keys = keys


def ensure_participants(session: Session, keys: Iterable[ParticipantKey]) -> None:
    """Create participant rows (balance 0) in key order, so concurrent creators never deadlock."""
    insert_ = insert_for(session)
    rows = [
        {"tenant_id": t, "mode": m, "external_id": e, "balance": 0, "created_at": utcnow()}
        for t, m, e in sorted(set(keys))
    ]
    statement = insert_(Participant).values(rows)
    statement = statement.on_conflict_do_nothing(
        index_elements=["tenant_id", "mode", "external_id"]
    )
    session.connection().execute(statement)


def read_account(session: Session, key: ParticipantKey) -> Account | None:
    """The participant's balance as it stands (no lock), or None before its first use."""
    tenant_id, mode, external_id = key
    row = session.execute(
        select(Participant.id, Participant.balance).where(
            Participant.tenant_id == tenant_id,
            Participant.mode == mode,
            Participant.external_id == external_id,
        )
    ).one_or_none()
    return None if row is None else Account(row.id, external_id, row.balance)


# Built once: a reused statement keeps its compiled form and cache key (a claim batch's
# fixed cost, issue 11).
_LOCK_ACCOUNTS = (
    select(Participant.id, Participant.external_id, Participant.balance)
    .where(
        Participant.tenant_id == bindparam("tenant_id"),
        Participant.mode == bindparam("mode"),
        Participant.external_id.in_(bindparam("external_ids", expanding=True)),
    )
    .order_by(Participant.id)
    .with_for_update()
)


def lock_accounts(session: Session, keys: set[ParticipantKey]) -> dict[ParticipantKey, Account]:
    """Lock participants in row-id order: one `external_id IN (...)` per tenant and mode, which
    PostgreSQL plans far faster than a row-value IN of the same length.

    Raises MissingParticipants when some have no row yet.
    """
    by_scope: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for tenant_id, mode, external_id in sorted(keys):
        by_scope[(tenant_id, mode)].append(external_id)
    found = {}
    for (tenant_id, mode), external_ids in sorted(by_scope.items()):
        params = {"tenant_id": tenant_id, "mode": mode, "external_ids": external_ids}
        for row in session.connection().execute(_LOCK_ACCOUNTS, params):
            found[(tenant_id, mode, row.external_id)] = Account(
                row.id, row.external_id, row.balance
            )
    missing = sorted(keys - found.keys())
    if missing:
        raise MissingParticipants(missing)
    return found


def entry(
    *,
    tenant_id: str,
    mode: str,
    participant_pk: int,
    amount: int,
    kind: EntryKind,
    reason: str | None,
    claim_id: str | None,
    balance_after: int,
    at: datetime,
    base_amount: int | None = None,
    multiplier_claim_id: str | None = None,
) -> dict[str, Any]:
    """One ledger row: `amount` signed (credits > 0, debits < 0), in points; a credit a
    multiplier raised keeps the amount asked for (`base_amount`) and the multiplier's claim."""
    return {
        "entry_id": new_id("pte"),
        "tenant_id": tenant_id,
        "mode": mode,
        "participant_id": participant_pk,
        "amount": amount,
        "kind": kind,
        "reason": reason,
        "claim_id": claim_id,
        "balance_after": balance_after,
        "created_at": at,
        "base_amount": base_amount,
        "multiplier_claim_id": multiplier_claim_id,
    }


_SAVE_BALANCES = (
    update(Participant)
    .where(Participant.id == bindparam("pk"))
    .values(balance=bindparam("new_balance"))
)


def save(session: Session, accounts: Iterable[Account], entries: list[dict[str, Any]]) -> None:
    """Write the changed balances and append their ledger entries, in the caller's transaction."""
    changed = [
        {"pk": a.pk, "new_balance": a.balance} for a in accounts if a.balance != a.balance_before
    ]
    if changed:
        session.connection().execute(_SAVE_BALANCES, changed)
    if entries:
        session.connection().execute(insert(LedgerEntry).inline(), entries)  # no RETURNING


def credit_points(
    session: Session,
    *,
    principal: Principal,
    external_id: str,
    credit: PointsCredit,
    key: str,
    print_: str,
) -> Recorded:
    """Credit points once per Idempotency-Key; a replay returns the recorded response.

    Raises IdempotencyKeyReused (422) for a key first used for a different request.
    """
    recorded = record(session, principal=principal, key=key, print_=print_, kind="points_credit")
    if not recorded.fresh:
        return recorded
    participant = (principal.tenant_id, principal.mode, external_id)
    ensure_participants(session, [participant])
    account = lock_accounts(session, {participant})[participant]
    now = utcnow()
    # Read under the participant's lock, which a claim batch also takes: a multiplier
    # claim decided before this credit is seen by it (CONTRACT §7).
    activation = multipliers.active(session, participant_pk=account.pk, at=now)
    amount = credit.amount if activation is None else activation.apply(credit.amount)
    account.balance += amount
    ledger_entry = entry(
        tenant_id=principal.tenant_id,
        mode=principal.mode,
        participant_pk=account.pk,
        amount=amount,
        kind="credit",
        reason=credit.reason,
        claim_id=None,
        balance_after=account.balance,
        at=now,
        base_amount=None if activation is None else credit.amount,
        multiplier_claim_id=None if activation is None else activation.claim_id,
    )
    save(session, [account], [ledger_entry])
    body = PointsCredited(
        participant_id=external_id, balance=account.balance, entry_id=ledger_entry["entry_id"]
    ).wire()
    return complete(session, record_id=recorded.id, response_status=201, body=body)


def points_summary(
    session: Session, *, principal: Principal, external_id: str, limit: int = MAX_ENTRIES
) -> PointsSummary:
    """Balance and ledger, newest first; an unknown participant has balance 0 and no entries."""
    participant = session.execute(
        select(Participant.id, Participant.balance).where(
            Participant.tenant_id == principal.tenant_id,
            Participant.mode == principal.mode,
            Participant.external_id == external_id,
        )
    ).one_or_none()
    if participant is None:
        return PointsSummary(participant_id=external_id, balance=0, entries=[])
    entries = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.participant_id == participant.id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    )
    return PointsSummary(
        participant_id=external_id,
        balance=participant.balance,
        entries=[
            LedgerEntryShape(
                entry_id=e.entry_id,
                amount=e.amount,
                kind=e.kind,  # type: ignore[arg-type]  # the column's CHECK holds these kinds
                reason=e.reason,
                claim_id=e.claim_id,
                balance_after=e.balance_after,
                created_at=e.created_at,
                base_amount=e.base_amount,
                multiplier_claim_id=e.multiplier_claim_id,
            )
            for e in entries
        ],
    )
