"""GET /events (admin): the facts, oldest first (or newest first with `order=desc`), as
their webhooks carry them."""

from __future__ import annotations

from flask import Blueprint, Response

from api.auth import admin_only, load_principal, principal
from api.query import query_args, takes_query
from api.respond import json_response
from api.services import services
from core.schemas import EventsQuery
from core.webhooks.events import list_events

bp = Blueprint("events", __name__)
bp.before_request(load_principal)


@bp.get("/events")
@takes_query(EventsQuery)
@admin_only
def events() -> Response:
    query = query_args(EventsQuery)
    with services().runtime.db.transaction() as session:
        page = list_events(
            session,
            principal=principal(),
            type_=query.type,
            after=query.after,
            before=query.before,
            order=query.order,
            limit=query.limit,
        )
    return json_response(page)
