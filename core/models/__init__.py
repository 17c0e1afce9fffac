"""SQLAlchemy models, one module per domain noun."""

from core.models.base import Base
from core.models.catalog import REWARD_TYPES, Inventory, Reward, RewardCode
from core.models.claims import Claim, IdempotentRequest
from core.models.facts import Fact
from core.models.points import LedgerEntry, Participant
from core.models.tenants import ApiKey, Tenant

__all__ = [
    "REWARD_TYPES",
    "ApiKey",
    "Base",
    "Claim",
    "Fact",
    "IdempotentRequest",
    "Inventory",
    "LedgerEntry",
    "Participant",
    "Reward",
    "RewardCode",
    "Tenant",
]
