"""Operations endpoints: no key needed."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from api.openapi import DOCUMENT_PATH, document
from api.respond import json_response
from api.services import services
from core.schemas import Health, Readiness, ReadinessChecks

bp = Blueprint("ops", __name__)
log = logging.getLogger("coffer.api")


@bp.get("/healthz")
def healthz() -> Response:
    return json_response(Health())


@bp.get("/readyz")
def readyz() -> Response:
    """Ready when the database and the broker both answer."""
    checks = ReadinessChecks(database=_database_ok(), broker=services().runtime.waker.reachable())
    ready = checks.database and checks.broker
    body = Readiness(status="ready" if ready else "unavailable", checks=checks)
    return json_response(body, 200 if ready else 503)


@bp.get(DOCUMENT_PATH)
def openapi() -> Response:
    """The OpenAPI 3.1 document describing every endpoint (api/openapi.py)."""
    return jsonify(document(current_app))


def _database_ok() -> bool:
    try:
        with services().runtime.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception:
        log.warning("readiness: database unreachable", exc_info=True)
        return False
