"""Points shapes (CONTRACT §5): a credit's answer, the balance and its ledger."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from core.schemas.common import Count, ParticipantRef, Timestamp, Wire, id_field

EntryId = Annotated[str, id_field("pte", "The ledger entry's id.")]


class PointsCredited(Wire):
    """The balance after a credit and the ledger entry it wrote."""

    participant_id: ParticipantRef
    balance: Count = Field(description="Points after the credit.")
    entry_id: EntryId


class LedgerEntry(Wire):
    """One append-only ledger entry; the balance always equals the sum of the ledger."""

    entry_id: EntryId
    amount: int = Field(description="Signed points: credits > 0, debits < 0.")
    kind: Literal["credit", "claim_debit", "reversal_refund"] = Field(
        description="What changed the balance."
    )
    reason: str | None = Field(description="The reason given with a credit.")
    claim_id: Annotated[str, id_field("clm", "The claim that debited or refunded.")] | None
    balance_after: Count = Field(description="The balance right after this entry.")
    created_at: Timestamp = Field(description="When the entry was written.")
    base_amount: Annotated[int, Field(ge=1)] | None = Field(
        description="A credit a points multiplier raised: the amount asked for (`amount` is "
        "floor(base_amount * factor)); null when no multiplier applied."
    )
    multiplier_claim_id: (
        Annotated[str, id_field("clm", "The points_multiplier claim whose factor applied.")] | None
    )


class PointsSummary(Wire):
    """Balance and ledger, newest first; an unknown participant has balance 0 and no entries."""

    participant_id: ParticipantRef
    balance: Count = Field(description="Current points; never below zero.")
    entries: Annotated[list[LedgerEntry], Field(max_length=1000, description="Newest first.")]
