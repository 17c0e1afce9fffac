"""The reward lifecycle rule, once: active, scheduled, expired or inactive (CONTRACT §4).

`status_of` decides one reward in Python (the catalog entry's `status`, the
claim planner's first checks); `is_active` and `has_status` are the same rule as
SQL predicates (the catalog listing and its admin `status` filter). A test holds
them to the same answers.
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


def has_status(status: Status, now: datetime) -> ColumnElement[bool]:
    """`status_of(reward, now) == status` as a SQL predicate on the rewards table."""
    live = Reward.deactivated_at.is_(None)
    if status == "inactive":
        return Reward.deactivated_at.is_not(None)
    if status == "expired":
        return and_(live, Reward.expires_at.is_not(None), Reward.expires_at <= now)
    if status == "scheduled":
        return and_(
            live,
            or_(Reward.expires_at.is_(None), Reward.expires_at > now),
            Reward.starts_at.is_not(None),
            Reward.starts_at > now,
        )
    return is_active(now)
