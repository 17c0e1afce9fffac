"""Starting and cancelling campaigns (CONTRACT §8)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.campaigns.fanout import finish
from core.campaigns.store import create_campaign
from core.campaigns.views import campaign_view, created_body, load_campaign
from core.idempotency import Recorded, complete, existing, record
from core.models import CampaignItem, IdempotencyRecord
from core.schemas import CampaignView
from core.tenants import Principal

CANCELLED = "campaign_cancelled"


class Replayed(Exception):
    """The Idempotency-Key was used before for this same request: answer what it answered."""

    def __init__(self, recorded: Recorded) -> None:
        super().__init__("replayed")
        self.recorded = recorded


def start_campaign(
    session: Session,
    *,
    principal: Principal,
    key: str,
    reward_id: str,
    name: str | None,
    points_deduction: bool,
    ids: Iterable[tuple[int, str]],
    print_: Any,
) -> Recorded:
    """POST /campaigns: store the campaign and its items and journal the key, in the caller's
    transaction; `print_()` is the request's fingerprint, known once `ids` are read.

    Raises Replayed when the key already holds this request (the caller's transaction then
    keeps nothing and answers the stored 202), IdempotencyKeyReused (422) for another
    request, RewardNotFound (404), ValidationFailed (400: the first bad line).
    """
    earlier = session.scalar(
        select(IdempotencyRecord.id).where(
            IdempotencyRecord.tenant_id == principal.tenant_id,
            IdempotencyRecord.mode == principal.mode,
            IdempotencyRecord.idempotency_key == key,
        )
    )
    if earlier is not None:  # read the upload only to compare it, store nothing
        for _ in ids:
            pass
        raise Replayed(existing(session, principal=principal, key=key, print_=print_()))
    campaign = create_campaign(
        session, principal=principal, reward_id=reward_id, name=name,
        points_deduction=points_deduction, ids=ids,
    )  # fmt: skip
    recorded = record(
        session, principal=principal, key=key, print_=print_(), kind="campaign",
        resource_id=campaign.id,
    )  # fmt: skip
    if not recorded.fresh:  # a same-key request committed first, while this one was reading
        raise Replayed(recorded)
    body = created_body(campaign)
    complete(session, record_id=recorded.id, response_status=202, body=body)
    return replace(recorded, response_status=202, response_body=body)


def cancel_campaign(
    session: Session, *, principal: Principal, campaign_id: str, now: datetime
) -> CampaignView:
    """POST /campaigns/{id}/cancel: undecided participants end `failed` with
    `campaign_cancelled`, decided ones stay; a finished campaign is returned as it is.

    Items are updated before the campaign row is locked, the order chunks lock them in.
    """
    campaign = load_campaign(session, principal=principal, campaign_id=campaign_id)
    if campaign.status != "running":
        return campaign_view(campaign)
    result = session.execute(
        update(CampaignItem)
        .where(CampaignItem.campaign_id == campaign.id, CampaignItem.status == "pending")
        .values(status="failed", error_code=CANCELLED)
    )
    stopped = int(result.rowcount or 0)  # type: ignore[attr-defined]
    campaign = load_campaign(session, principal=principal, campaign_id=campaign_id, lock=True)
    session.refresh(campaign)
    if campaign.status != "running":
        return campaign_view(campaign)
    campaign.failed += stopped
    if stopped:
        counts = dict(campaign.failures_by_code)
        counts[CANCELLED] = counts.get(CANCELLED, 0) + stopped
        campaign.failures_by_code = dict(sorted(counts.items()))
    finish(session, campaign, status="cancelled", now=now)
    session.flush()
    return campaign_view(campaign)
