"""Responses built from the wire models (core/schemas): one serializer for every JSON body."""

from __future__ import annotations

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
