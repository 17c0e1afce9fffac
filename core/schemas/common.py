"""What every response model shares: closed shapes, wire timestamps, public ids."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from core.clock import to_wire


class Wire(BaseModel):
    """A response shape: exactly these members, in this order (the order on the wire).

    Every member is always written, nullable ones as `null`, so the serialization
    schema marks each one required.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_serialization_defaults_required=True
    )

    def wire(self) -> dict[str, Any]:
        """The JSON-ready dict, members in wire order."""
        return self.model_dump(mode="json")


TIMESTAMP_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
    "description": "RFC 3339, UTC, to the second.",
}

# An aware datetime (or the RFC 3339 text of a stored response), written as the seed shows it.
Timestamp = Annotated[
    datetime,
    PlainSerializer(to_wire, return_type=str),
    WithJsonSchema(TIMESTAMP_SCHEMA),
]


def id_field(prefix: str, description: str) -> Any:
    """A public id: the type prefix and a 26-character ULID (core/ids.py).

    Use as `Annotated[str, id_field("clm", "The claim's id.")]`. The pattern is
    documented (and the conformance tests hold responses to it) but not checked
    again when answering: an answer read from stored rows must never fail on one.
    """
    return Field(
        examples=[f"{prefix}_01jd3x8k2m9q4r7t5v6w8y0z1a"],
        description=description,
        json_schema_extra={"pattern": f"^{prefix}_[0-9a-z]{{26}}$"},
    )


Count = Annotated[int, Field(ge=0)]
ParticipantRef = Annotated[
    str, Field(description="The tenant's own participant id, as given.", min_length=1)
]
