"""Operations endpoints: no key needed."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from api.openapi import DOCUMENT_PATH, document
from api.services import services

bp = Blueprint("ops", __name__)
log = logging.getLogger("coffer.api")


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready when the database and the broker both answer."""
    svc = services()
    checks = {"database": _database_ok(), "broker": svc.runtime.waker.reachable()}
    ready = all(checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503


@bp.get(DOCUMENT_PATH)
def openapi() -> Response:
    """The OpenAPI 3.1 document describing every endpoint (api/openapi.py)."""
    return jsonify(document())


def _database_ok() -> bool:
    try:
        with services().runtime.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception:
        log.warning("readiness: database unreachable", exc_info=True)
        return False
