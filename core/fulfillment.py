"""Fulfillment as a reward definition carries it (CONTRACT §7): which endpoint, what on failure.

A definition's `fulfillment` is `{"endpoint_id", "on_failure": "keep" | "reverse"}` or null.
The endpoint must be a live (not deleted) webhook endpoint of the reward's own tenant and
mode; anything else is `400 validation_error` naming `fulfillment.endpoint_id`. The claim
side (pending -> fulfilled | failed, the reversal on failure) is core/claims/fulfillment.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ValidationFailed, WebhookEndpointNotFound
from core.models import Fact, Reward, WebhookEndpoint
from core.schemas import FulfillmentView
from core.tenants import Principal
from core.webhooks import endpoints

CLAIMED = "reward.reward_claimed"


def check(session: Session, *, principal: Principal, fields: dict[str, Any]) -> None:
    """Refuse a definition (or patch) whose fulfillment names no endpoint of this tenant+mode."""
    chosen = fields.get("fulfillment")
    if not chosen:
        return
    try:
        # FOR KEY SHARE: a delete under way is waited for (and then refused here), or waits.
        endpoints.load(
            session, principal=principal, endpoint_id=chosen["endpoint_id"], key_share=True
        )
    except WebhookEndpointNotFound:
        message = "is not a webhook endpoint of this tenant and mode"
        raise ValidationFailed([{"field": "fulfillment.endpoint_id", "message": message}]) from None


def apply(reward: Reward, chosen: dict[str, Any] | None) -> None:
    """Store a validated `fulfillment` value (null clears it) on the reward's two columns."""
    reward.fulfillment_endpoint_id = chosen["endpoint_id"] if chosen else None
    reward.fulfillment_on_failure = chosen["on_failure"] if chosen else None


def view(reward: Reward) -> FulfillmentView | None:
    """The definition's `fulfillment` as admin entries show it, or None."""
    if reward.fulfillment_endpoint_id is None:
        return None
    return FulfillmentView(
        endpoint_id=reward.fulfillment_endpoint_id,
        on_failure=reward.fulfillment_on_failure or "keep",  # type: ignore[arg-type]
    )


def endpoints_of(session: Session, facts: Iterable[Fact]) -> dict[int, WebhookEndpoint]:
    """fact pk -> the fulfillment endpoint its `reward.reward_claimed` is delivered to.

    Read from the reward's definition when the fact is relayed (right after the
    claim commits), among the endpoints of the fact's own tenant and mode. Unlike a
    subscription, a disabled endpoint counts (its delivery waits, pending, until it is
    enabled again) and so does a deleted one (the relay fails the claim's fulfillment
    at once: core.webhooks.removal); either way the claim never stays pending for want
    of a delivery. The rows are locked FOR KEY SHARE, so a delete under way is waited
    for and seen.
    """
    claimed = [fact for fact in facts if fact.type == CLAIMED and fact.data.get("reward_id")]
    if not claimed:
        return {}
    rows = session.execute(
        select(Reward.id, WebhookEndpoint)
        .join(
            WebhookEndpoint,
            (WebhookEndpoint.endpoint_id == Reward.fulfillment_endpoint_id)
            & (WebhookEndpoint.tenant_id == Reward.tenant_id)
            & (WebhookEndpoint.mode == Reward.mode),
        )
        .where(Reward.id.in_({fact.data["reward_id"] for fact in claimed}))
        .with_for_update(of=WebhookEndpoint, key_share=True)
    ).all()
    by_reward = {reward_id: endpoint for reward_id, endpoint in rows}
    return {
        fact.id: by_reward[fact.data["reward_id"]]
        for fact in claimed
        if fact.data["reward_id"] in by_reward
    }
