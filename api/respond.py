"""Responses built from the wire models (core/schemas): one serializer for every JSON body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, current_app
from pydantic import BaseModel


def json_response(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """`model` as application/json, members in the model's (the wire's) order.

    Serialized by Flask's JSON provider, as stored claim and credit responses
    are replayed, so a body reads the same byte for byte however it is answered.
    """
    response = current_app.json.response(model.model_dump(mode="json"))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def stored_response(
    body: Mapping[str, Any], status: int, headers: dict[str, str] | None = None
) -> Response:
    """A response recorded under an Idempotency-Key, answered exactly as stored.

    Its body was built from a model when the request was first decided; it is not
    validated again, so a replay never fails on, or changes, what was first answered.
    """
    response = current_app.json.response(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response
