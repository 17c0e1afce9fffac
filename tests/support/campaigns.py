"""Driving campaigns through core, for integration tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from core.campaigns.control import start_campaign
from core.campaigns.fanout import advance
from core.campaigns.upload import ids_from_list
from core.campaigns.views import campaign_view
from core.db import Database
from core.models import Campaign, CampaignItem
from tests.support.tenants import TestTenant


def start(
    db: Database, tenant: TestTenant, reward_id: str, participants: list[str], **kw: Any
) -> str:
    key = uuid.uuid4().hex
    with db.transaction() as session:
        recorded = start_campaign(
            session, principal=tenant.principal(), key=key, reward_id=reward_id,
            name=kw.get("name"), points_deduction=kw.get("points_deduction", False),
            ids=ids_from_list(participants), print_=lambda: key,
        )  # fmt: skip
    return recorded.resource_id or ""


def run_to_end(db: Database, campaign_id: str, *, chunk_size: int = 50) -> int:
    chunks = 0
    while not advance(db, campaign_id=campaign_id, chunk_size=chunk_size).finished:
        chunks += 1
    return chunks


def view(db: Database, campaign_id: str) -> dict[str, Any]:
    with db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign_view(campaign).wire()


def items_by_status(db: Database, campaign_id: str) -> dict[str, int]:
    with db.transaction() as session:
        rows = session.execute(
            select(CampaignItem.status, func.count())
            .where(CampaignItem.campaign_id == campaign_id)
            .group_by(CampaignItem.status)
        )
        return {status: count for status, count in rows}
