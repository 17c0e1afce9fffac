"""Bodies of the webhook-endpoint requests, validated like every other command (core.inputs)."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from core.facts import FactType
from core.inputs import NoNul, Strict
from core.webhooks.ssrf import UnsafeUrl, parse

EVENT_TYPES: tuple[str, ...] = get_args(FactType)
ALL_TYPES = "*"  # subscribes to every type, including ones added later


def _url_shape(value: str) -> str:
    try:
        parse(value)
    except UnsafeUrl as refusal:
        raise ValueError(str(refusal)) from refusal
    return value


# The pattern documents the shape _url_shape checks (http or https, a host, no user
# name); whether the host resolves, and to a public address, is checked when registering.
URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\s]+([/?#].*)?$"
Url = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2048),
    NoNul,
    AfterValidator(_url_shape),
    Field(json_schema_extra={"pattern": URL_PATTERN}),
]
EventType = Literal[
    "*",
    "reward.reward_claimed",
    "reward.claim_reversed",
    "reward.fulfillment_failed",
    "reward.inventory_low",
    "reward.inventory_exhausted",
    "campaign.completed",
]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=len(EVENT_TYPES) + 1)]
Description = Annotated[str, StringConstraints(max_length=500), NoNul]


def _distinct(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError("must not repeat a type")
    return value


def _all_types() -> list[EventType]:
    return ["*"]


class EndpointCreate(Strict):
    url: Url
    event_types: EventTypes = Field(default_factory=_all_types)
    description: Description | None = None

    _types = field_validator("event_types")(_distinct)


class EndpointPatch(Strict):
    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _distinct(value)


assert set(get_args(EventType)) == {ALL_TYPES, *EVENT_TYPES}, "EventType must follow FactType"
