"""What the periodic sweep looks for: work accepted but not yet done."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Campaign, Claim


def stale_pending_claims(session: Session, *, accepted_before: datetime) -> bool:
    """True when a claim accepted before the cutoff is still pending (its message was lost,
    or the worker holding it died)."""
    oldest = session.scalar(
        select(Claim.accepted_at).where(Claim.status == "pending").order_by(Claim.id).limit(1)
    )
    return oldest is not None and oldest < accepted_before


def stalled_campaigns(session: Session, *, idle_since: datetime) -> list[str]:
    """Running campaigns no chunk has advanced since `idle_since` (a lost message, a killed
    worker): the sweep starts their chunks again."""
    query = select(Campaign.id).where(
        Campaign.status == "running", Campaign.advanced_at < idle_since
    )
    return list(session.scalars(query))
