"""Webhook endpoints and their deliveries (admin): /webhook-endpoints, /webhook-deliveries."""

from __future__ import annotations

from contextlib import AbstractContextManager

from flask import Blueprint, Response, request
from sqlalchemy.orm import Session

from api.auth import admin_only, load_principal, principal
from api.bodies import json_body
from api.query import query_args, takes_query
from api.respond import json_response
from api.services import services
from core.schemas import WebhookEndpointWithSecret, WebhookPageQuery
from core.webhooks import endpoints, history, removal
from core.webhooks.inputs import EndpointCreate, EndpointPatch

bp = Blueprint("webhooks", __name__)
bp.before_request(load_principal)


def _db() -> AbstractContextManager[Session]:
    return services().runtime.db.transaction()


def _allow_private() -> bool:
    return bool(services().runtime.settings.webhook_allow_private)


@bp.post("/webhook-endpoints")
@admin_only
def create() -> Response:
    body = json_body(EndpointCreate)
    with _db() as session:
        created = endpoints.create_endpoint(
            session, principal=principal(), body=body, allow_private=_allow_private()
        )
    shown = WebhookEndpointWithSecret.model_validate(created)
    return json_response(shown, 201, {"Location": f"{request.path}/{shown.id}"})


@bp.get("/webhook-endpoints")
@takes_query(WebhookPageQuery)
@admin_only
def list_all() -> Response:
    query = query_args(WebhookPageQuery)
    with _db() as session:
        page = endpoints.list_endpoints(
            session, principal=principal(), limit=query.limit, cursor=query.cursor
        )
    return json_response(page)


@bp.get("/webhook-endpoints/<endpoint_id>")
@admin_only
def read(endpoint_id: str) -> Response:
    with _db() as session:
        shown = endpoints.get_endpoint(session, principal=principal(), endpoint_id=endpoint_id)
    return json_response(shown)


@bp.patch("/webhook-endpoints/<endpoint_id>")
@admin_only
def update(endpoint_id: str) -> Response:
    body = json_body(EndpointPatch)
    with _db() as session:
        updated = endpoints.update_endpoint(
            session, principal=principal(), endpoint_id=endpoint_id, body=body,
            allow_private=_allow_private(),
        )  # fmt: skip
    return json_response(updated)


@bp.delete("/webhook-endpoints/<endpoint_id>")
@admin_only
def delete(endpoint_id: str) -> tuple[str, int]:
    with _db() as session:
        ended = removal.delete_endpoint(session, principal=principal(), endpoint_id=endpoint_id)
    if ended:
        services().runtime.webhooks.wake_relay()  # fulfillment failures' facts, if any
    return "", 204


@bp.post("/webhook-endpoints/<endpoint_id>/rotate-secret")
@admin_only
def rotate(endpoint_id: str) -> Response:
    with _db() as session:
        rotated = endpoints.rotate_secret(session, principal=principal(), endpoint_id=endpoint_id)
    return json_response(WebhookEndpointWithSecret.model_validate(rotated))


@bp.get("/webhook-endpoints/<endpoint_id>/deliveries")
@takes_query(WebhookPageQuery)
@admin_only
def deliveries(endpoint_id: str) -> Response:
    query = query_args(WebhookPageQuery)
    with _db() as session:
        page = history.list_deliveries(
            session, principal=principal(), endpoint_id=endpoint_id, limit=query.limit,
            cursor=query.cursor,
        )  # fmt: skip
    return json_response(page)


@bp.post("/webhook-deliveries/<delivery_id>/retry")
@admin_only
def retry(delivery_id: str) -> Response:
    with _db() as session:
        delivery_pk, shown = history.retry_delivery(
            session, principal=principal(), delivery_id=delivery_id,
            schedule=services().runtime.settings.webhook_retry_schedule,
        )  # fmt: skip
    services().runtime.webhooks.send([delivery_pk])  # at once; the periodic job if lost
    return json_response(shown)
