"""Accepting a claim in the API: validate, then record the claim and its key together.

On PostgreSQL, recording is one statement: a data-modifying CTE journals the
key with ON CONFLICT DO NOTHING and inserts the pending claim only when the key
was new, so a claim request costs the API one round trip and one commit. On
SQLite the same two inserts run in the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Integer, String, bindparam, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import RewardNotFound
from core.idempotency import COLUMNS, Recorded, existing, fingerprint, record
from core.ids import new_id
from core.inputs import ClaimBody
from core.models import Claim, IdempotencyRecord, Reward
from core.models.base import UTCDateTime
from core.tenants import Principal


class KnownRewards:
    """Rewards known to exist per (tenant, mode, id). Rewards are deactivated, never
    deleted, so "it exists" never stops being true: remembering it saves a query per claim.
    One per process, held by the runtime."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._known: set[tuple[str, str, str]] = set()

    def require(self, session: Session, *, principal: Principal, reward_id: str) -> None:
        """Raises RewardNotFound unless the reward exists for this tenant and mode."""
        cache_key = (principal.tenant_id, principal.mode, reward_id)
        if cache_key in self._known:
            return
        found = session.scalar(
            select(Reward.id).where(
                Reward.id == reward_id,
                Reward.tenant_id == principal.tenant_id,
                Reward.mode == principal.mode,
            )
        )
        if found is None:
            raise RewardNotFound(f"No reward {reward_id}")
        if len(self._known) >= self.limit:
            self._known.clear()
        self._known.add(cache_key)


def _params(*names_and_types: tuple[str, Any]) -> dict[str, Any]:
    return {name: bindparam(f"p_{name}", type_=type_) for name, type_ in names_and_types}


_CLAIM_PARAMS = _params(
    ("claim_id", String()), ("tenant_id", String()), ("mode", String()),
    ("reward_id", String()), ("participant_external_id", String()),
    ("points_deduction", Boolean()), ("status", String()), ("attempts", Integer()),
    ("request_id", String()), ("accepted_at", UTCDateTime()),
)  # fmt: skip
_JOURNAL_PARAMS = _params(
    ("tenant_id", String()), ("mode", String()), ("idempotency_key", String()),
    ("fingerprint", String()), ("kind", String()), ("resource_id", String()),
    ("created_at", UTCDateTime()),
)  # fmt: skip


def _pg_record_claim() -> Any:
    journal = (
        postgresql.insert(IdempotencyRecord)
        .values(_JOURNAL_PARAMS)
        .on_conflict_do_nothing(index_elements=["tenant_id", "mode", "idempotency_key"])
        .returning(*COLUMNS)
        .cte("journal")
    )
    columns = ["idempotency_record_id", *_CLAIM_PARAMS]
    rows = select(journal.c.id, *_CLAIM_PARAMS.values())
    return (
        insert(Claim)
        .from_select(columns, rows)
        .returning(
            Claim.idempotency_record_id.label("id"),
            Claim.claim_id.label("resource_id"),
        )
    )


_PG_RECORD_CLAIM = _pg_record_claim()  # built once: it runs on every claim request


def accept_claim(
    session: Session,
    *,
    principal: Principal,
    reward_id: str,
    body: ClaimBody,
    key: str,
    path: str,
    request_id: str | None,
    known_rewards: KnownRewards,
) -> Recorded:
    """Record the claim (pending) under its key, or find the request already there.

    Refusals here (RewardNotFound 404, IdempotencyKeyReused 422) do not consume the
    key (CONTRACT §6 guarantee 1); everything after recording is the worker's call.
    """
    known_rewards.require(session, principal=principal, reward_id=reward_id)
    print_ = fingerprint("POST", path, body.model_dump())
    now, claim_id = utcnow(), new_id("clm")
    claim: dict[str, Any] = {
        "claim_id": claim_id,
        "tenant_id": principal.tenant_id,
        "mode": principal.mode,
        "reward_id": reward_id,
        "participant_external_id": body.participant_id,
        "points_deduction": body.points_deduction,
        "status": "pending",
        "attempts": 0,
        "request_id": request_id,
        "accepted_at": now,
    }
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        params = {f"p_{name}": value for name, value in claim.items()}
        params.update(
            p_idempotency_key=key, p_fingerprint=print_, p_kind="claim",
            p_resource_id=claim_id, p_created_at=now,
        )  # fmt: skip
        inserted = connection.execute(_PG_RECORD_CLAIM, params).one_or_none()
        if inserted is not None:
            return Recorded(inserted.id, inserted.resource_id, None, None, fresh=True)
        return existing(session, principal=principal, key=key, print_=print_)
    recorded = record(
        session, principal=principal, key=key, print_=print_, kind="claim", resource_id=claim_id
    )
    if recorded.fresh:
        connection.execute(insert(Claim), {**claim, "idempotency_record_id": recorded.id})
    return recorded
