"""Deciding a campaign chunk by chunk, through the same claim core as single claims.

A chunk is one transaction: lock the oldest pending items (SKIP LOCKED, so
several workers share a campaign), record each participant's claim under the
key `campaign:{campaign_id}:{participant_id}` (CONTRACT §8), decide the claims
with `decide_and_write` exactly as a storefront batch would, copy each outcome
onto its item and move the campaign's counters. A refusal is an outcome like
any other; a fault rolls back only its chunk, which is then retried item by
item so one participant's fault never holds back the others. A worker killed
mid-chunk rolls back; the periodic sweep starts the campaign's chunks again,
and every item is decided once.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from core import facts
from core.claims.batch import decide_and_write
from core.claims.outcome import Outcome
from core.claims.state import PendingClaim
from core.clock import utcnow
from core.db import Database
from core.errors import ProcessingFailed
from core.idempotency import fingerprint
from core.ids import new_id
from core.models import Campaign, CampaignItem, Claim, IdempotencyRecord
from core.points import ensure_participants

log = logging.getLogger("coffer.campaigns")
CHUNK_SIZE = 200


@dataclass
class ChunkReport:
    decided: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    finished: bool = False  # the campaign has no pending item left (or is not running)


def campaign_key(campaign_id: str, participant_id: str) -> str:
    return f"campaign:{campaign_id}:{participant_id}"


def advance(db: Database, *, campaign_id: str, chunk_size: int = CHUNK_SIZE) -> ChunkReport:
    """Decide the next chunk of a running campaign; item by item if the chunk faults."""
    try:
        with db.transaction() as session:
            return decide_chunk(session, campaign_id=campaign_id, limit=chunk_size, now=utcnow())
    except Exception:
        log.exception("campaign chunk failed; deciding its items one by one",
                      extra={"campaign_id": campaign_id})  # fmt: skip
    report = ChunkReport()
    for _ in range(chunk_size):
        try:
            with db.transaction() as session:
                single = decide_chunk(session, campaign_id=campaign_id, limit=1, now=utcnow())
        except Exception:
            log.exception("campaign item failed on its own", extra={"campaign_id": campaign_id})
            with db.transaction() as session:
                single = fail_next_item(session, campaign_id=campaign_id, now=utcnow())
        report.decided += single.decided
        report.outcomes.extend(single.outcomes)
        if single.finished:
            report.finished = True
            break
    return report


def decide_chunk(session: Session, *, campaign_id: str, limit: int, now: datetime) -> ChunkReport:
    """One chunk, in the caller's transaction."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.status != "running":
        return ChunkReport(finished=True)
    items = _lock_pending_items(session, campaign_id, limit)
    if not items:
        return ChunkReport(finished=_finish_if_done(session, campaign_id, now))
    claims = _record_claims(session, campaign, items, now)
    outcomes = decide_and_write(session, claims, now=now) if claims else []
    outcome_of = {o.claim_id: o for o in outcomes}
    rows, tally = [], Counter[str]()
    for (item_id, _), claim in zip(items, claims, strict=True):
        outcome = outcome_of[claim.claim_id]
        code = None if outcome.status == "succeeded" else outcome.error_code
        tally[code or "succeeded"] += 1
        rows.append({
            "item_id": item_id, "new_status": outcome.status, "claim": outcome.claim_id,
            "code_value": outcome.body.get("code_value"), "error": code,
        })  # fmt: skip
    _write_items(session, rows)
    finished = _count(session, campaign_id, tally, now)
    return ChunkReport(decided=len(items), outcomes=outcomes, finished=finished)


def fail_next_item(session: Session, *, campaign_id: str, now: datetime) -> ChunkReport:
    """The next pending item failed on its own for a fault: it ends `processing_failed`."""
    items = _lock_pending_items(session, campaign_id, 1)
    if not items:
        return ChunkReport(finished=True)
    _write_items(session, [{"item_id": items[0][0], "new_status": "failed", "claim": None,
                            "code_value": None, "error": ProcessingFailed.code}])  # fmt: skip
    finished = _count(session, campaign_id, Counter({ProcessingFailed.code: 1}), now)
    return ChunkReport(decided=1, finished=finished)


def _lock_pending_items(session: Session, campaign_id: str, limit: int) -> list[tuple[int, str]]:
    rows = session.execute(
        select(CampaignItem.id, CampaignItem.participant_id)
        .where(CampaignItem.campaign_id == campaign_id, CampaignItem.status == "pending")
        .order_by(CampaignItem.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(item_id, participant_id) for item_id, participant_id in rows]


def _record_claims(
    session: Session, campaign: Campaign, items: list[tuple[int, str]], now: datetime
) -> list[PendingClaim]:
    """Journal and insert a pending claim per item, exactly like an accepted claim."""
    participants = [participant_id for _, participant_id in items]
    ensure_participants(session, [(campaign.tenant_id, campaign.mode, p) for p in participants])
    path = f"/api/v1/gamify/rewards/{campaign.reward_id}/claim"
    claim_ids = [new_id("clm") for _ in participants]
    journal = [
        {
            "tenant_id": campaign.tenant_id, "mode": campaign.mode,
            "idempotency_key": campaign_key(campaign.id, p),
            "fingerprint": fingerprint("POST", path, {
                "participant_id": p, "points_deduction": campaign.points_deduction}),
            "kind": "claim", "resource_id": claim_id, "created_at": now,
        }
        for p, claim_id in zip(participants, claim_ids, strict=True)
    ]  # fmt: skip
    # A chunk is decided once, so its keys are new; a key taken by anyone else is refused
    # by the unique index and rolls the chunk back rather than deciding twice.
    record_ids = dict(
        session.connection().execute(
            insert(IdempotencyRecord).returning(
                IdempotencyRecord.resource_id, IdempotencyRecord.id
            ),
            journal,
        ).all()
    ) if journal else {}  # fmt: skip
    claims = [
        PendingClaim(
            claim_pk=0, claim_id=claim_id,
            idempotency_record_id=record_ids[claim_id], tenant_id=campaign.tenant_id,
            mode=campaign.mode, reward_id=campaign.reward_id, participant_external_id=p,
            points_deduction=campaign.points_deduction, request_id=None, accepted_at=now,
        )
        for claim_id, p in zip(claim_ids, participants, strict=True)
    ]  # fmt: skip
    rows = [{**asdict(c), "status": "pending", "attempts": 0} for c in claims]
    for row in rows:
        del row["claim_pk"]  # the claim row's id: assigned by the insert
    pks = dict(
        session.connection().execute(insert(Claim).returning(Claim.claim_id, Claim.id), rows).all()
    )
    return [replace(c, claim_pk=pks[c.claim_id]) for c in claims]


_WRITE_ITEM = (
    update(CampaignItem)
    .where(CampaignItem.id == bindparam("item_id"))
    .values(
        status=bindparam("new_status"),
        claim_id=bindparam("claim"),
        code_value=bindparam("code_value"),
        error_code=bindparam("error"),
    )
)


def _write_items(session: Session, rows: list[dict[str, Any]]) -> None:
    session.connection().execute(_WRITE_ITEM, rows)


def _count(session: Session, campaign_id: str, tally: Counter[str], now: datetime) -> bool:
    """Move the counters (the campaign row is locked last, after its items); finish the
    campaign when nothing is pending. True when it finished."""
    # populate_existing: the row read at the chunk's start is stale by now; the counters
    # must be the locked row's, or two chunks would both add to the same old value.
    locked = select(Campaign).where(Campaign.id == campaign_id).with_for_update()
    campaign = session.scalar(locked.execution_options(populate_existing=True))
    assert campaign is not None
    succeeded = tally.pop("succeeded", 0)
    campaign.succeeded += succeeded
    campaign.failed += sum(tally.values())
    merged = Counter(campaign.failures_by_code) + tally
    campaign.failures_by_code = dict(sorted(merged.items()))
    campaign.advanced_at = now
    if campaign.pending == 0 and campaign.status == "running":
        finish(session, campaign, status="completed", now=now)
    session.flush()
    return campaign.status != "running"


def _finish_if_done(session: Session, campaign_id: str, now: datetime) -> bool:
    return _count(session, campaign_id, Counter(), now)


def finish(session: Session, campaign: Campaign, *, status: str, now: datetime) -> None:
    """End a campaign (completed or cancelled) and append `campaign.completed` (§8)."""
    campaign.status = status
    campaign.completed_at = now
    data = {
        "campaign_id": campaign.id, "status": status, "total": campaign.total,
        "succeeded": campaign.succeeded, "failed": campaign.failed,
        "failures_by_code": campaign.failures_by_code,
    }  # fmt: skip
    facts.append(session, [facts.fact(tenant_id=campaign.tenant_id, mode=campaign.mode,
                                      type_="campaign.completed", data=data, at=now)])  # fmt: skip
