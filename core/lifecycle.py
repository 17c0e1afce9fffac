"""The reward lifecycle rule, once: active, scheduled, expired or inactive (CONTRACT §4).

`status_of` decides one reward in Python (the catalog entry's `status`, the
claim planner's first checks); `is_active` is the same rule as a SQL predicate
(the catalog listing). A test holds the two to the same answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from sqlalchemy import ColumnElement, and_, or_

from core.models import Reward

Status = Literal["active", "scheduled", "expired", "inactive"]


class Window(Protocol):
    """What the rule reads of a reward (a model row or a claim planner's snapshot)."""

    @property
    def deactivated_at(self) -> datetime | None: ...
    @property
    def starts_at(self) -> datetime | None: ...
    @property
    def expires_at(self) -> datetime | None: ...


def status_of(reward: Window, now: datetime) -> Status:
    """Deactivation wins, then expiry (now >= expires_at), then a start in the future."""
    if reward.deactivated_at is not None:
        return "inactive"
    if reward.expires_at is not None and now >= reward.expires_at:
        return "expired"
    if reward.starts_at is not None and now < reward.starts_at:
        return "scheduled"
    return "active"


def is_active(now: datetime) -> ColumnElement[bool]:
    """`status_of(reward, now) == "active"` as a SQL predicate on the rewards table."""
    return and_(
        Reward.deactivated_at.is_(None),
        or_(Reward.starts_at.is_(None), Reward.starts_at <= now),
        or_(Reward.expires_at.is_(None), Reward.expires_at > now),
    )
