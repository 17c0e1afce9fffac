"""Webhook endpoints and their deliveries (admin): /webhook-endpoints, /webhook-deliveries."""

from __future__ import annotations

from contextlib import AbstractContextManager

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from api.auth import admin_only, load_principal, principal
from api.bodies import json_body, query_int
from api.services import services
from core.errors import ValidationFailed
from core.webhooks import endpoints, history
from core.webhooks.inputs import EndpointCreate, EndpointPatch

bp = Blueprint("webhooks", __name__)
bp.before_request(load_principal)
MAX_PAGE = 100


def only_query(*names: str) -> None:
    """400 for a query parameter the endpoint does not take (CONTRACT §4)."""
    unknown = sorted(set(request.args) - set(names))
    if unknown:
        message = "is not a query parameter Coffer accepts here"
        raise ValidationFailed([{"field": name, "message": message} for name in unknown])


def _db() -> AbstractContextManager[Session]:
    return services().runtime.db.transaction()


def _allow_private() -> bool:
    return bool(services().runtime.settings.webhook_allow_private)


@bp.post("/webhook-endpoints")
@admin_only
def create() -> tuple[Response, int, dict[str, str]]:
    only_query()
    body = json_body(EndpointCreate)
    with _db() as session:
        created = endpoints.create_endpoint(
            session, principal=principal(), body=body, allow_private=_allow_private()
        )
    return jsonify(created), 201, {"Location": f"{request.path}/{created['id']}"}


@bp.get("/webhook-endpoints")
@admin_only
def list_all() -> Response:
    only_query("limit", "cursor")
    limit = query_int("limit", default=50, low=1, high=MAX_PAGE)
    with _db() as session:
        page = endpoints.list_endpoints(
            session, principal=principal(), limit=limit, cursor=request.args.get("cursor")
        )
    return jsonify(page)


@bp.get("/webhook-endpoints/<endpoint_id>")
@admin_only
def read(endpoint_id: str) -> Response:
    only_query()
    with _db() as session:
        return jsonify(
            endpoints.get_endpoint(session, principal=principal(), endpoint_id=endpoint_id)
        )


@bp.patch("/webhook-endpoints/<endpoint_id>")
@admin_only
def update(endpoint_id: str) -> Response:
    only_query()
    body = json_body(EndpointPatch)
    with _db() as session:
        updated = endpoints.update_endpoint(
            session, principal=principal(), endpoint_id=endpoint_id, body=body,
            allow_private=_allow_private(),
        )  # fmt: skip
    return jsonify(updated)


@bp.delete("/webhook-endpoints/<endpoint_id>")
@admin_only
def delete(endpoint_id: str) -> tuple[str, int]:
    only_query()
    with _db() as session:
        endpoints.delete_endpoint(session, principal=principal(), endpoint_id=endpoint_id)
    return "", 204


@bp.post("/webhook-endpoints/<endpoint_id>/rotate-secret")
@admin_only
def rotate(endpoint_id: str) -> Response:
    only_query()
    with _db() as session:
        return jsonify(
            endpoints.rotate_secret(session, principal=principal(), endpoint_id=endpoint_id)
        )


@bp.get("/webhook-endpoints/<endpoint_id>/deliveries")
@admin_only
def deliveries(endpoint_id: str) -> Response:
    only_query("limit", "cursor")
    limit = query_int("limit", default=50, low=1, high=MAX_PAGE)
    with _db() as session:
        page = history.list_deliveries(
            session, principal=principal(), endpoint_id=endpoint_id, limit=limit,
            cursor=request.args.get("cursor"),
        )  # fmt: skip
    return jsonify(page)


@bp.post("/webhook-deliveries/<delivery_id>/retry")
@admin_only
def retry(delivery_id: str) -> Response:
    only_query()
    with _db() as session:
        delivery_pk, shown = history.retry_delivery(
            session, principal=principal(), delivery_id=delivery_id,
            schedule=services().runtime.settings.webhook_retry_schedule,
        )  # fmt: skip
    services().runtime.webhooks.send([delivery_pk])  # at once; the periodic job if lost
    return jsonify(shown)
