"""RFC 9457 problem details, as api/errors.py writes them and a failed claim stores them."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from core.schemas.common import Wire


class FieldError(Wire):
    """One refused field (or query parameter, header, CSV line)."""

    field: str = Field(description="The field, e.g. `name`, `code_generation.length`, `line 3`.")
    message: str = Field(description="What is wrong with it.")


class Problem(Wire):
    """RFC 9457 problem details; `type` and `code` carry the same stable code (CONTRACT §3)."""

    model_config = ConfigDict(
        json_schema_serialization_defaults_required=False,  # `errors` may be absent
        json_schema_extra={
            "if": {"properties": {"code": {"const": "validation_error"}}, "required": ["code"]},
            "then": {"required": ["errors"]},
        },
    )

    type: str = Field(description="The stable machine code (same as `code`).")
    code: str = Field(description="The stable machine code, e.g. `insufficient_points`.")
    title: Annotated[str, Field(min_length=1, description="A short human summary of the code.")]
    status: Annotated[int, Field(ge=400, le=599, description="The HTTP status it answers.")]
    detail: Annotated[str, Field(min_length=1, description="This occurrence, in words.")]
    errors: Annotated[
        Annotated[list[FieldError], Field(min_length=1)] | SkipJsonSchema[None],
        Field(
            description="Each refused field; present on `validation_error` only.",
            exclude_if=lambda value: value is None,  # absent, never null, on the wire
            json_schema_extra=lambda schema: schema.pop("default", None),  # so never null
        ),
    ] = None
