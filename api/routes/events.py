"""GET /events (admin): the facts, oldest first, as their webhooks carry them."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from api.auth import admin_only, load_principal, principal
from api.bodies import query_choice, query_int
from api.routes.webhooks import only_query
from api.services import services
from core.webhooks.events import list_events
from core.webhooks.inputs import EVENT_TYPES

bp = Blueprint("events", __name__)
bp.before_request(load_principal)
MAX_PAGE = 500


@bp.get("/events")
@admin_only
def events() -> Response:
    only_query("type", "after", "limit")
    type_ = query_choice("type", EVENT_TYPES)
    limit = query_int("limit", default=100, low=1, high=MAX_PAGE)
    with services().runtime.db.transaction() as session:
        page = list_events(
            session,
            principal=principal(),
            type_=type_,
            after=request.args.get("after"),
            limit=limit,
        )
    return jsonify(page)
