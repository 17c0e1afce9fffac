"""Reading request bodies and query strings into validated models."""

from __future__ import annotations

from typing import TypeVar

from flask import request
from pydantic import BaseModel, TypeAdapter, ValidationError

from api.errors import validation_failed
from core.errors import ValidationFailed
from core.inputs import ParticipantId

M = TypeVar("M", bound=BaseModel)


def json_body(model: type[M]) -> M:
    """The body as `model`: malformed JSON, wrong types and unknown fields are a 400."""
    data = request.get_data(cache=True)
    if not data.strip():
        raise ValidationFailed([{"field": "body", "message": "a JSON object is required"}])
    try:
        return model.model_validate_json(data)
    except ValidationError as error:
        raise validation_failed(error) from error


def query_int(name: str, *, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ValidationFailed(
            [{"field": name, "message": f"must be an integer from {low} to {high}"}]
        )
    return int(raw)


def query_choice(name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.args.get(name)
    if raw is not None and raw not in choices:
        raise ValidationFailed([{"field": name, "message": f"must be one of {', '.join(choices)}"}])
    return raw


_PARTICIPANT_ID = TypeAdapter(ParticipantId)


def participant_id_from(raw: str, *, field: str = "participant_id") -> str:
    """A participant id from a path or query string, held to the rules of one in a body."""
    try:
        return _PARTICIPANT_ID.validate_python(raw)
    except ValidationError as error:
        message = error.errors(include_url=False)[0]["msg"]
        raise ValidationFailed([{"field": field, "message": message}]) from error
