"""Webhook shapes (CONTRACT §7): endpoints, their deliveries with attempts, and the facts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from core.facts import FactType
from core.schemas.common import Timestamp, Wire, id_field
from core.webhooks.inputs import EventType

DeliveryStatus = Literal["pending", "delivered", "failed"]


def _cursor() -> Any:
    return Field(description="Pass as `cursor` for the next page; null on the last page.")


class WebhookEndpointView(Wire):
    """A webhook endpoint as the API shows it (never its secret)."""

    id: Annotated[str, id_field("whe", "The endpoint's id.")]
    url: str = Field(description="Where deliveries are POSTed.")
    event_types: list[EventType] = Field(
        description="The fact types delivered to it; `*` is every type, also ones added later."
    )
    description: str | None = Field(description="Free text.")
    enabled: bool = Field(description="Whether deliveries are sent to it.")
    disabled_reason: str | None = Field(
        description="Why it is disabled (by an admin, `410 Gone`, failing for days); null "
        "while enabled."
    )
    created_at: Timestamp = Field(description="When it was registered.")


class WebhookEndpointWithSecret(WebhookEndpointView):
    """The endpoint at creation or rotation: the only time its secret is shown."""

    secret: str = Field(
        description="`whsec_` + base64: the key of the deliveries' HMAC-SHA256 signatures.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookEndpointPage(Wire):
    """Endpoints, oldest first, `limit` at a time."""

    webhook_endpoints: list[WebhookEndpointView]
    next_cursor: str | None = _cursor()


class DeliveryAttempt(Wire):
    """One HTTP attempt of a delivery: what came back, or why nothing did."""

    attempted_at: Timestamp = Field(description="When the attempt started.")
    status_code: int | None = Field(description="The HTTP status answered; null if none was.")
    error: str | None = Field(description="Why it did not count as delivered; null if it did.")
    duration_ms: Annotated[int, Field(ge=0)] = Field(description="How long it took.")
    response_body: str | None = Field(description="The start of the body answered, if any.")


class DeliveryView(Wire):
    """One fact's delivery to one endpoint, with every attempt so far (oldest first)."""

    id: Annotated[str, id_field("whd", "The delivery's id.")]
    event_id: Annotated[str, id_field("evt", "The fact delivered (its `webhook-id`).")]
    event_type: FactType = Field(description="The fact's type.")
    status: DeliveryStatus = Field(description="pending, delivered or failed.")
    next_attempt_at: Timestamp | None = Field(
        description="When the next attempt is due; null once delivered or failed."
    )
    attempts: list[DeliveryAttempt]


class DeliveryPage(Wire):
    """An endpoint's deliveries, newest first, `limit` at a time."""

    deliveries: list[DeliveryView]
    next_cursor: str | None = _cursor()


class EventView(Wire):
    """A fact, as its webhooks carry it."""

    id: Annotated[str, id_field("evt", "The fact's id: the `webhook-id` of its deliveries.")]
    type: FactType = Field(description="What happened.")
    created_at: Timestamp = Field(description="When it happened.")
    data: dict[str, Any] = Field(description="The fact's data, as CONTRACT §7 lists per type.")


class EventPage(Wire):
    """Facts, oldest first (newest first with `order=desc`), `limit` at a time."""

    events: list[EventView]
    next_cursor: str | None = Field(
        description="Pass as `after` for the next page (as `before` with `order=desc`); null "
        "once the page reaches the newest fact (the oldest with `order=desc`)."
    )
