"""Facts: the outbox. Every fact is appended in the transaction of the change it records.

Nothing else writes the `facts` table. A relay (CONTRACT §7) reads undispatched
facts after commit and hands them to webhook delivery; a fact is never sent
from inside the transaction that writes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import insert
from sqlalchemy.orm import Session

from core.ids import new_id
from core.models import Fact

FactType = Literal[
    "reward.reward_claimed",
    "reward.claim_reversed",
    "reward.fulfillment_failed",
    "reward.inventory_low",
    "reward.inventory_exhausted",
    "campaign.completed",
]


def fact(
    *, tenant_id: str, mode: str, type_: FactType, data: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """One fact row; its `event_id` is the `webhook-id` of every delivery of it."""
    return {
        "event_id": new_id("evt"),
        "tenant_id": tenant_id,
        "mode": mode,
        "type": type_,
        "data": data,
        "created_at": at,
    }


def append(session: Session, facts: list[dict[str, Any]]) -> None:
    """Append facts (rows from `fact`) in the caller's transaction, in the order given."""
    if facts:
        # The Core connection: through Session.execute an insert takes the ORM bulk path.
        session.connection().execute(insert(Fact).inline(), facts)  # no RETURNING
