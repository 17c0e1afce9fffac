"""Operations endpoints: no key needed."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from api.openapi import DOCUMENT_PATH, document
from api.respond import json_response
from api.services import services
from core.readiness import readiness
from core.schemas import Health

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return json_response(Health())


@bp.get("/readyz")
def readyz() -> Response:
    """Each dependency by name (core/readiness.py); 503 while a required one is down."""
    body = readiness(services().runtime)
    return json_response(body, 503 if body.status == "unavailable" else 200)


@bp.get(DOCUMENT_PATH)
def openapi() -> Response:
    """The OpenAPI 3.1 document describing every endpoint (api/openapi.py)."""
    return jsonify(document(current_app))
