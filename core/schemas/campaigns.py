"""Campaign shapes (CONTRACT §8): the campaign, a page of them, and per-participant results."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from core.schemas.common import Count, ParticipantRef, Timestamp, Wire, id_field

CampaignId = Annotated[str, id_field("cmp", "The campaign's id.")]
RewardId = Annotated[str, id_field("rwd", "The reward gifted.")]
CampaignStatus = Literal["running", "completed", "cancelled"]


class CampaignCreated(Wire):
    """The 202 answer to POST /campaigns (and its replay)."""

    campaign_id: CampaignId
    status: CampaignStatus = Field(description="`running` when created.")
    total: Count = Field(description="Distinct participant ids in the upload.")
    name: str | None = Field(description="The name given, if any.")
    reward_id: RewardId
    created_at: Timestamp


class CampaignView(Wire):
    """A campaign with counts exact at every moment: succeeded + failed + pending == total."""

    campaign_id: CampaignId
    name: str | None = Field(description="The name given, if any.")
    reward_id: RewardId
    status: CampaignStatus
    total: Count = Field(description="Distinct participant ids in the upload.")
    succeeded: Count = Field(description="Participants whose claim succeeded.")
    failed: Count = Field(description="Participants whose claim failed (see failures_by_code).")
    pending: Count = Field(description="Participants not decided yet.")
    failures_by_code: dict[str, int] = Field(
        description="Failed participants by error code (campaign_cancelled for a cancel)."
    )
    created_at: Timestamp
    completed_at: Timestamp | None = Field(description="When it completed or was cancelled.")


class CampaignPage(Wire):
    """GET /campaigns: newest first."""

    campaigns: list[CampaignView]
    next_cursor: str | None = Field(description="Reads the next page; null on the last.")


class CampaignResult(Wire):
    """One participant of a campaign and what their claim got."""

    participant_id: ParticipantRef
    status: Literal["succeeded", "failed", "pending"]
    claim_id: str | None = Field(description="The participant's claim, once decided.")
    code_value: str | None = Field(description="The code handed out, when succeeded.")
    error_code: str | None = Field(description="Why it failed, when failed.")


class CampaignResults(Wire):
    """GET /campaigns/{campaign_id}/results: in upload order."""

    results: list[CampaignResult]
    next_cursor: str | None = Field(description="Reads the next page; null on the last.")
