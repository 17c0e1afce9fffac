"""GET /events: the facts of one tenant and mode, oldest first (CONTRACT §7), or newest
first on request (`order=desc`, an extension: docs/api-extensions.md)."""

from __future__ import annotations

import base64
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ValidationFailed
from core.models import Fact
from core.schemas import EventPage, EventView
from core.schemas.queries import EventOrder
from core.tenants import Principal

_EVENT_ID = re.compile(r"^evt_[0-9a-z]{26}$")


def list_events(
    session: Session,
    *,
    principal: Principal,
    type_: str | None,
    after: str | None,
    limit: int,
    before: str | None = None,
    order: EventOrder = "asc",
) -> EventPage:
    """A page of facts, oldest first (`order="asc"`) or newest first (`"desc"`).

    `after` and `before` are each a `next_cursor` or any event id (`evt_...`), so a
    consumer can resume after the last event it stored; they bound either order. The
    `next_cursor` continues in the page's order: pass it as `after` when ascending, as
    `before` when descending; it is null once the page reaches the last fact that way.
    An unknown cursor raises ValidationFailed naming its parameter (400).
    """
    descending = order == "desc"
    query = (
        select(Fact)
        .where(Fact.tenant_id == principal.tenant_id, Fact.mode == principal.mode)
        .order_by(Fact.id.desc() if descending else Fact.id)
        .limit(limit + 1)
    )
    if type_ is not None:
        query = query.where(Fact.type == type_)
    if after is not None:
        query = query.where(Fact.id > _position(session, principal, after, "after"))
    if before is not None:
        query = query.where(Fact.id < _position(session, principal, before, "before"))
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return EventPage(
        events=[event(row) for row in rows],
        next_cursor=cursor(rows[-1].event_id) if more else None,
    )


def event(fact: Fact) -> EventView:
    return EventView(
        id=fact.event_id,
        type=fact.type,  # type: ignore[arg-type]  # facts are appended with a FactType
        created_at=fact.created_at,
        data=fact.data,
    )


def cursor(event_id: str) -> str:
    return base64.urlsafe_b64encode(event_id.encode()).decode().rstrip("=")


def _position(session: Session, principal: Principal, value: str, field: str) -> int:
    event_id = value if value.startswith("evt_") else _decoded(value)
    # Only an event id reaches the query (NUL and the like never do).
    position = None
    if _EVENT_ID.match(event_id):
        position = session.scalar(
            select(Fact.id).where(
                Fact.event_id == event_id,
                Fact.tenant_id == principal.tenant_id,
                Fact.mode == principal.mode,
            )
        )
    if position is None:
        raise ValidationFailed([{"field": field, "message": "not a cursor Coffer issued"}])
    return position


def _decoded(value: str) -> str:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return ""
