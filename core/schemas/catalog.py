"""Catalog shapes (CONTRACT §4): the catalog entry, a page of them, a code upload's result."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from core.inputs import RewardType
from core.schemas.common import Count, Timestamp, Wire, id_field

RewardStatus = Literal["active", "scheduled", "expired", "inactive"]


class RewardEntry(Wire):
    """A catalog entry: a reward definition as it stands, with its stock read now."""

    id: Annotated[str, id_field("rwd", "The reward's id.")]
    name: str = Field(description="The reward's display name.")
    type: RewardType = Field(description="What the reward is.")
    description: str | None = Field(description="Free text for the storefront.")
    points_cost: Annotated[int, Field(ge=1)] | None = Field(
        description="Points a claim with points_deduction costs; null = free."
    )
    available_codes: Count | None = Field(
        description="Unallocated codes left, computed at read time; null when the reward "
        "generates codes (no inventory cap)."
    )
    max_claims_per_user: Annotated[int, Field(ge=1)] = Field(
        description="Most claims of this reward one participant may hold."
    )
    expires_at: Timestamp | None = Field(description="No claims from then on; null = never.")
    starts_at: Timestamp | None = Field(description="No claims before then; null = at once.")
    code_expiry_days: Annotated[int, Field(ge=1)] | None = Field(
        description="Days a claimed code stays valid (claim expires_at = claimed_at + this); "
        "null = codes do not expire."
    )
    low_stock_threshold: Count | None = Field(
        description="`reward.inventory_low` fires when available_codes falls below this."
    )
    status: RewardStatus = Field(
        description="active, scheduled (before starts_at), expired (at or after expires_at) "
        "or inactive (deactivated); deactivation wins, then expiry."
    )
    created_at: Timestamp = Field(description="When the reward was created.")


class RewardPage(Wire):
    """One page of active, started, unexpired rewards in creation order."""

    rewards: list[RewardEntry] = Field(description="This page's entries.")
    total: Count = Field(description="All matching rewards, not just this page.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class CodeUploadResult(Wire):
    """What a code upload did: codes added, codes refused as present or repeated, codes left."""

    added: Count = Field(description="Codes new to this reward, now in its inventory.")
    duplicates: Count = Field(
        description="Codes already present or repeated within the upload (added once)."
    )
    available_codes: Count = Field(description="Unallocated codes left after the upload.")
