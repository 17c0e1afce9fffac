"""The wire shapes: one pydantic model per response shape (and per query string).

Core functions build these, routes serialize them (api/respond.py), the OpenAPI
document is generated from them (api/openapi.py), and tests compare bodies
with them. Field order is wire order.
"""

from core.schemas.campaigns import (
    CampaignCreated,
    CampaignPage,
    CampaignResult,
    CampaignResults,
    CampaignView,
)
from core.schemas.catalog import (
    CodeUploadResult,
    Eligibility,
    FulfillmentView,
    RewardEntry,
    RewardPage,
    RewardStatus,
)
from core.schemas.claims import (
    ClaimFailed,
    ClaimPending,
    ClaimRecord,
    ClaimStatus,
    ClaimSucceeded,
    ClaimView,
    ParticipantRewards,
    Reversal,
)
from core.schemas.common import Timestamp, Wire
from core.schemas.ops import Health, Readiness, ReadinessChecks
from core.schemas.points import LedgerEntry, PointsCredited, PointsSummary
from core.schemas.problems import FieldError, Problem
from core.schemas.queries import (
    CampaignResultsQuery,
    CampaignsQuery,
    CampaignUploadQuery,
    EventsQuery,
    ParticipantRewardsQuery,
    Query,
    RewardsQuery,
    WebhookPageQuery,
)
from core.schemas.tokens import ParticipantToken
from core.schemas.webhooks import (
    DeliveryAttempt,
    DeliveryPage,
    DeliveryStatus,
    DeliveryView,
    EventPage,
    EventView,
    WebhookEndpointPage,
    WebhookEndpointView,
    WebhookEndpointWithSecret,
)

__all__ = [
    "CampaignCreated",
    "CampaignPage",
    "CampaignResult",
    "CampaignResults",
    "CampaignResultsQuery",
    "CampaignUploadQuery",
    "CampaignView",
    "CampaignsQuery",
    "ClaimFailed",
    "ClaimPending",
    "ClaimRecord",
    "ClaimStatus",
    "ClaimSucceeded",
    "ClaimView",
    "CodeUploadResult",
    "DeliveryAttempt",
    "DeliveryPage",
    "DeliveryStatus",
    "DeliveryView",
    "Eligibility",
    "EventPage",
    "EventView",
    "EventsQuery",
    "FieldError",
    "FulfillmentView",
    "Health",
    "LedgerEntry",
    "ParticipantRewards",
    "ParticipantRewardsQuery",
    "ParticipantToken",
    "PointsCredited",
    "PointsSummary",
    "Problem",
    "Query",
    "Readiness",
    "ReadinessChecks",
    "Reversal",
    "RewardEntry",
    "RewardPage",
    "RewardStatus",
    "RewardsQuery",
    "Timestamp",
    "WebhookEndpointPage",
    "WebhookEndpointView",
    "WebhookEndpointWithSecret",
    "WebhookPageQuery",
    "Wire",
]
