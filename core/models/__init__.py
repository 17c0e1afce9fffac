"""SQLAlchemy models, one module per domain noun."""

from core.models.base import Base
from core.models.campaigns import Campaign, CampaignItem
from core.models.catalog import REWARD_TYPES, Inventory, ReturnedCode, Reward, RewardCode
from core.models.claims import CLAIM_STATUSES, Claim, ClaimReversal
from core.models.facts import Fact
from core.models.idempotency import JOURNAL_KINDS, IdempotencyRecord
from core.models.instance_secrets import InstanceSecret
from core.models.points import LedgerEntry, Participant
from core.models.tenants import ApiKey, Tenant
from core.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "CLAIM_STATUSES",
    "JOURNAL_KINDS",
    "REWARD_TYPES",
    "ApiKey",
    "Base",
    "Campaign",
    "CampaignItem",
    "Claim",
    "ClaimReversal",
    "Fact",
    "IdempotencyRecord",
    "InstanceSecret",
    "Inventory",
    "LedgerEntry",
    "Participant",
    "ReturnedCode",
    "Reward",
    "RewardCode",
    "Tenant",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
