"""Fulfillment as a reward definition carries it (CONTRACT §7): which endpoint, what on failure.

A definition's `fulfillment` is `{"endpoint_id", "on_failure": "keep" | "reverse"}` or null.
The endpoint must be a live (not deleted) webhook endpoint of the reward's own tenant and
mode; anything else is `400 validation_error` naming `fulfillment.endpoint_id`. The claim
side (pending -> fulfilled | failed, the reversal on failure) is core/claims/fulfillment.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from core.errors import ValidationFailed, WebhookEndpointNotFound
from core.models import Reward, WebhookEndpoint
from core.schemas import FulfillmentView
from core.tenants import Principal
from core.webhooks import endpoints

CLAIMED = "reward.reward_claimed"
# Built once (the relay's hot path, core/webhooks/relay.py); locked with the same
# `with_for_update(of=..., key_share=True)` as before (FOR NO KEY UPDATE OF webhook_endpoints).
_ENDPOINTS = (
    select(
        Reward.id.label("reward_id"),
        WebhookEndpoint.id,
        WebhookEndpoint.endpoint_id,
        WebhookEndpoint.deleted_at,
    )
    .join(
        WebhookEndpoint,
        (WebhookEndpoint.endpoint_id == Reward.fulfillment_endpoint_id)
        & (WebhookEndpoint.tenant_id == Reward.tenant_id)
        & (WebhookEndpoint.mode == Reward.mode),
    )
    .where(Reward.id.in_(bindparam("reward_ids", expanding=True)))
    .with_for_update(of=WebhookEndpoint, key_share=True)
)


def check(session: Session, *, principal: Principal, fields: dict[str, Any]) -> None:
    """Refuse a definition (or patch) whose fulfillment names no endpoint of this tenant+mode."""
    chosen = fields.get("fulfillment")
    if not chosen:
        return
    try:
        # Row-locked (FOR NO KEY UPDATE, see endpoints.load): a delete under way is
        # waited for (and then refused here), or waits.
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


def endpoints_of(
    session: Session, facts: Iterable[Row[*tuple[Any, ...]]]
) -> dict[int, Row[*tuple[Any, ...]]]:
    """fact pk -> the fulfillment endpoint its `reward.reward_claimed` is delivered to, as a row
    of (id, endpoint_id, deleted_at).

    `facts` are the relay's rows (id, type, reward_id: the `reward_id` of the fact's data).
    Read from the reward's definition when the fact is relayed (right after the
    claim commits), among the endpoints of the fact's own tenant and mode. Unlike a
    subscription, a disabled endpoint counts (its delivery waits, pending, until it is
    enabled again) and so does a deleted one (the relay fails the claim's fulfillment
    at once: core.webhooks.removal); either way the claim never stays pending for want
    of a delivery. The rows are locked (as the relay's subscribers are), so a delete under
    way is waited for and seen. No statement when no fact is a claim.
    """
    claimed = [fact for fact in facts if fact.type == CLAIMED and fact.reward_id]
    if not claimed:
        return {}
    rows = session.connection().execute(
        _ENDPOINTS, {"reward_ids": list({fact.reward_id for fact in claimed})}
    )
    by_reward = {row.reward_id: row for row in rows}
    return {fact.id: by_reward[fact.reward_id] for fact in claimed if fact.reward_id in by_reward}
