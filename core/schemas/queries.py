"""Query parameters, one model per endpoint that takes any (CONTRACT §4).

api/query.py refuses every parameter a route's model does not name, on every
endpoint, and the OpenAPI document lists each model's fields as parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from core.facts import FactType
from core.inputs import ParticipantId, RewardType, whole_number_within

MAX_PAGE = 200
MAX_WEBHOOK_PAGE = 100  # endpoints and deliveries
MAX_EVENT_PAGE = 500


def _page_size(high: int) -> Callable[[Any], Any]:
    def check(raw: Any) -> Any:
        if isinstance(raw, str) and not whole_number_within(raw, 1, high):
            raise PydanticCustomError("limit", f"must be an integer from 1 to {high}")
        return raw

    return check


# Page sizes: from 1 to the endpoint's maximum.
CatalogLimit = Annotated[int, Field(ge=1, le=MAX_PAGE), BeforeValidator(_page_size(MAX_PAGE))]
WebhookLimit = Annotated[
    int, Field(ge=1, le=MAX_WEBHOOK_PAGE), BeforeValidator(_page_size(MAX_WEBHOOK_PAGE))
]
EventLimit = Annotated[
    int, Field(ge=1, le=MAX_EVENT_PAGE), BeforeValidator(_page_size(MAX_EVENT_PAGE))
]


# Cursors Coffer issues are base64url text, and so are event ids (`after`): the pattern
# documents that much; whether Coffer issued the cursor is checked when it is decoded.
Cursor = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")
]


class Query(BaseModel):
    """No parameters: any one given is a 400 validation_error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# The catalog listing's lifecycle filter (an admin extension, docs/api-extensions.md).
ListingStatus = Literal["active", "scheduled", "expired", "inactive", "all"]
EventOrder = Literal["asc", "desc"]


class RewardsQuery(Query):
    """GET /rewards."""

    reward_type: RewardType | None = Field(default=None, description="Only this type.")
    status: ListingStatus = Field(
        default="active",
        description="Admin keys only. Rewards of this status, or `all` (docs/api-extensions.md); "
        "any value but `active` is 403 forbidden for other keys. Default `active`, the "
        "contract's listing.",
    )
    limit: CatalogLimit = Field(default=50, description="Entries on this page.")
    cursor: Cursor | None = Field(default=None, description="The next_cursor of the previous page.")
    participant_id: ParticipantId | None = Field(
        default=None,
        description="Give each entry this participant's `eligibility` (CONTRACT §4).",
    )


class ParticipantRewardsQuery(Query):
    """GET /participants/{participant_id}/rewards."""

    include: Literal["reversed"] | None = Field(
        default=None, description="`reversed`: list reversed claims too, each with `status`."
    )


def _bounded(high: int) -> Any:
    def check(raw: Any) -> Any:
        if isinstance(raw, str) and not whole_number_within(raw, 1, high):
            raise PydanticCustomError("limit", f"must be an integer from 1 to {high}")
        return raw

    return BeforeValidator(check)


class CampaignsQuery(Query):
    """GET /campaigns."""

    limit: Annotated[int, Field(ge=1, le=MAX_PAGE), _bounded(MAX_PAGE)] = Field(
        default=50, description="Campaigns on this page."
    )
    cursor: Cursor | None = Field(default=None, description="The next_cursor of the previous page.")


class CampaignResultsQuery(Query):
    """GET /campaigns/{campaign_id}/results."""

    status: Literal["succeeded", "failed", "pending"] | None = Field(
        default=None, description="Only participants in this state."
    )
    limit: Annotated[int, Field(ge=1, le=1000), _bounded(1000)] = Field(
        default=100, description="Results on this page."
    )
    cursor: Cursor | None = Field(default=None, description="The next_cursor of the previous page.")


class CampaignUploadQuery(Query):
    """POST /campaigns with a text/csv or multipart/form-data body: the other fields."""

    reward_id: str | None = Field(
        default=None, description="The reward to gift (required with an upload)."
    )
    name: str | None = Field(default=None, max_length=200, description="A name for people.")
    points_deduction: Literal["true", "false"] = Field(
        default="false", description="Deduct each participant's points for the reward."
    )


class WebhookPageQuery(Query):
    """GET /webhook-endpoints and GET /webhook-endpoints/{endpoint_id}/deliveries."""

    limit: WebhookLimit = Field(default=50, description="Entries on this page.")
    cursor: Cursor | None = Field(default=None, description="The next_cursor of the previous page.")


class EventsQuery(Query):
    """GET /events (CONTRACT §7)."""

    type: FactType | None = Field(default=None, description="Only facts of this type.")
    after: Cursor | None = Field(
        default=None,
        description="The next_cursor of the previous page (with order `asc`), or any event "
        "id (`evt_...`): facts after it.",
    )
    before: str | None = Field(
        default=None,
        description="The next_cursor of the previous page (with order `desc`), or any event "
        "id (`evt_...`): facts before it.",
    )
    order: EventOrder = Field(
        default="asc",
        description="`asc`: oldest first (the default, CONTRACT §7); `desc`: newest first, "
        "`next_cursor` then pages backwards through `before`.",
    )
    limit: EventLimit = Field(default=100, description="Facts on this page.")
