"""Reading campaigns: one, the list, and the per-participant results (CONTRACT §8)."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound, ValidationFailed
from core.models import Campaign, CampaignItem
from core.schemas import (
    CampaignCreated,
    CampaignPage,
    CampaignResult,
    CampaignResults,
    CampaignView,
)
from core.tenants import Principal

MAX_PAGE = 1000
RESULT_STATUSES = ("succeeded", "failed", "pending")


def created_body(campaign: Campaign) -> dict[str, Any]:
    """The 202 answer to POST /campaigns, as stored for replays."""
    return CampaignCreated(
        campaign_id=campaign.id, status=campaign.status,  # type: ignore[arg-type]
        total=campaign.total, name=campaign.name, reward_id=campaign.reward_id,
        created_at=campaign.created_at,
    ).wire()  # fmt: skip


def campaign_view(campaign: Campaign) -> CampaignView:
    """GET /campaigns/{id}: counts exact at every moment (succeeded + failed + pending == total)."""
    return CampaignView(
        campaign_id=campaign.id, name=campaign.name, reward_id=campaign.reward_id,
        status=campaign.status,  # type: ignore[arg-type]
        total=campaign.total, succeeded=campaign.succeeded, failed=campaign.failed,
        pending=campaign.pending, failures_by_code=campaign.failures_by_code,
        created_at=campaign.created_at, completed_at=campaign.completed_at,
    )  # fmt: skip


def load_campaign(
    session: Session, *, principal: Principal, campaign_id: str, lock: bool = False
) -> Campaign:
    """The campaign within the caller's tenant and mode; NotFound (404) otherwise."""
    query = select(Campaign).where(
        Campaign.id == campaign_id,
        Campaign.tenant_id == principal.tenant_id,
        Campaign.mode == principal.mode,
    )
    campaign = session.scalar(query.with_for_update() if lock else query)
    if campaign is None:
        raise NotFound(f"No campaign {campaign_id}")
    return campaign


def list_campaigns(
    session: Session, *, principal: Principal, limit: int, cursor: str | None
) -> CampaignPage:
    """GET /campaigns: newest first, `limit` at a time."""
    query = (
        select(Campaign)
        .where(Campaign.tenant_id == principal.tenant_id, Campaign.mode == principal.mode)
        .order_by(Campaign.id.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        query = query.where(Campaign.id < _decode(cursor, prefix="cmp_"))
    rows = list(session.scalars(query))
    page = rows[:limit]
    more = len(rows) > limit
    return CampaignPage(
        campaigns=[campaign_view(c) for c in page],
        next_cursor=_encode(page[-1].id) if more else None,
    )


def campaign_results(
    session: Session,
    *,
    principal: Principal,
    campaign_id: str,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> CampaignResults:
    """GET /campaigns/{id}/results: one entry per participant, in upload order."""
    campaign = load_campaign(session, principal=principal, campaign_id=campaign_id)
    query = (
        select(CampaignItem)
        .where(CampaignItem.campaign_id == campaign.id)
        .order_by(CampaignItem.id)
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(CampaignItem.status == status)
    if cursor is not None:
        after = _decode(cursor, prefix="item_").removeprefix("item_")
        if not after.isdigit():
            raise _bad_cursor()
        query = query.where(CampaignItem.id > int(after))
    rows = list(session.scalars(query))
    page = rows[:limit]
    return CampaignResults(
        results=[
            CampaignResult(
                participant_id=item.participant_id,
                status=item.status,  # type: ignore[arg-type]
                claim_id=item.claim_id,
                code_value=item.code_value,
                error_code=item.error_code,
            )
            for item in page
        ],
        next_cursor=_encode(f"item_{page[-1].id}") if len(rows) > limit else None,
    )


def _encode(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _decode(cursor: str, *, prefix: str) -> str:
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        value = ""
    if (
        not value.startswith(prefix)
        or not value.isascii()
        or (not value.isalnum() and "_" not in value)
    ):
        raise _bad_cursor()
    return value


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed([{"field": "cursor", "message": "not a cursor Coffer issued"}])
