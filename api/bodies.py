"""Reading request bodies and query strings into validated models."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, TypeAdapter, ValidationError

from api.errors import validation_failed
from core.errors import ValidationFailed
from core.inputs import CodeUpload, ParticipantId, whole_number_within
from core.inventory import parse_csv

M = TypeVar("M", bound=BaseModel)
JSON_REQUIRED = "a JSON body sent with Content-Type application/json is required"


def json_body(model: type[M]) -> M:
    """The body as `model`: malformed JSON, a member named twice in one object, wrong
    types and unknown fields are a 400 (CONTRACT §4).

    A body not sent as JSON (`curl -d` sends application/x-www-form-urlencoded) is a 400
    on `Content-Type` too, never read as JSON: 415 is not among CONTRACT §3's statuses
    (docs/inputs.md "Bodies").
    """
    data = request.get_data(cache=True)
    if not data.strip():
        raise ValidationFailed([{"field": "body", "message": "a JSON object is required"}])
    if not request.is_json:  # application/json, or a structured type such as application/*+json
        raise ValidationFailed([{"field": "Content-Type", "message": JSON_REQUIRED}])
    _refuse_repeated_members(data)
    try:
        # pydantic's own JSON mode validates: strict types, yet ISO 8601 strings as datetimes.
        return model.model_validate_json(data)
    except ValidationError as error:
        raise validation_failed(error) from error


def csv_codes() -> CodeUpload:
    """A text/csv code upload; `header=present` (RFC 4180 §3) means its first line is a header."""
    header = request.mimetype_params.get("header", "absent").lower()
    if header not in ("present", "absent"):
        raise ValidationFailed(
            [{"field": "Content-Type", "message": "header must be present or absent (RFC 4180)"}]
        )
    return parse_csv(request.get_data(as_text=True), header=header == "present")


class _RepeatedMember(Exception):
    pass


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise _RepeatedMember
    return members


def _refuse_repeated_members(data: bytes) -> None:
    """RFC 8259 leaves a repeated name's meaning to each parser (last wins, first wins, an
    error): Coffer refuses it at any depth rather than guess which value was meant."""
    try:
        json.loads(data, object_pairs_hook=_unique_members)
    except _RepeatedMember:
        field = _repeated_member_path(json.loads(data, object_pairs_hook=list)) or "body"
        raise ValidationFailed(
            [{"field": field, "message": "is given more than once in one JSON object"}]
        ) from None
    except (ValueError, RecursionError):
        return  # not JSON this parser reads: pydantic's validation says what is wrong


def _repeated_member_path(node: Any, path: tuple[str, ...] = ()) -> str:
    """The dotted path (as pydantic names fields) of the first repeated member in `node`,
    parsed with every object as its list of (name, value) pairs; "" when there is none."""
    if isinstance(node, list) and node and all(_is_pair(item) for item in node):
        seen: set[str] = set()
        for name, value in node:
            if name in seen:
                return ".".join((*path, name))
            seen.add(name)
            if found := _repeated_member_path(value, (*path, name)):
                return found
        return ""
    if isinstance(node, list):
        for index, item in enumerate(node):
            if found := _repeated_member_path(item, (*path, str(index))):
                return found
    return ""


def _is_pair(item: Any) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)


def query_int(name: str, *, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not whole_number_within(raw, low, high):
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
