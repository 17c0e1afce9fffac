"""Points: idempotent credits and the append-only ledger.

The balance lives on the participant row (CHECK balance >= 0) and every change
to it appends a ledger entry carrying the balance after it, in one transaction.
"""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.idempotency import Recorded, complete, record
from core.ids import new_id
from core.inputs import PointsCredit
from core.models import LedgerEntry, Participant
from core.schemas import LedgerEntry as LedgerEntryShape
from core.schemas import PointsCredited, PointsSummary
from core.tenants import Principal

MAX_ENTRIES = 1000


def ensure_participant(session: Session, *, principal: Principal, external_id: str) -> int:
    """The participant's row id, creating the row (balance 0) on first use."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(Participant)
        .values(
            tenant_id=principal.tenant_id,
            mode=principal.mode,
            external_id=external_id,
            balance=0,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "mode", "external_id"])
    )
    return session.execute(
        select(Participant.id).where(
            Participant.tenant_id == principal.tenant_id,
            Participant.mode == principal.mode,
            Participant.external_id == external_id,
        )
    ).scalar_one()


def credit_points(
    session: Session,
    *,
    principal: Principal,
    external_id: str,
    credit: PointsCredit,
    key: str,
    print_: str,
) -> Recorded:
    """Credit points once per Idempotency-Key; a replay returns the recorded response."""
    recorded = record(
        session,
        principal=principal,
        key=key,
        print_=print_,
        values={"kind": "points_credit", "status": "pending"},
    )
    if not recorded.fresh:
        return recorded
    participant_pk = ensure_participant(session, principal=principal, external_id=external_id)
    balance = session.execute(
        update(Participant)
        .where(Participant.id == participant_pk)
        .values(balance=Participant.balance + credit.amount)
        .returning(Participant.balance)
    ).scalar_one()
    entry_id = new_id("pte")
    session.execute(
        insert(LedgerEntry).values(
            entry_id=entry_id,
            tenant_id=principal.tenant_id,
            mode=principal.mode,
            participant_id=participant_pk,
            amount=credit.amount,
            kind="credit",
            reason=credit.reason,
            balance_after=balance,
            created_at=utcnow(),
        )
    )
    body = PointsCredited(participant_id=external_id, balance=balance, entry_id=entry_id).wire()
    return complete(
        session, request_id=recorded.id, status="succeeded", response_status=201, body=body
    )


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
            )
            for e in entries
        ],
    )
