"""Validated commands: the request bodies Coffer accepts, as pydantic models.

Unknown fields are refused (no mass assignment), and types are strict: "5" is
not an integer and 1 is not a boolean.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

RewardType = Literal["coupon", "voucher", "physical", "digital", "points_multiplier"]
PRINTABLE = r"^[\x20-\x7e]+$"
MAX_POINTS = 10**12

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ParticipantId = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=PRINTABLE)
]
PositivePoints = Annotated[int, Field(ge=1, le=MAX_POINTS)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CodeGeneration(Strict):
    prefix: Annotated[str, StringConstraints(max_length=50, pattern=r"^[\x21-\x7e]*$")] = ""
    length: Annotated[int, Field(ge=4, le=64)] = 8


class _DefinitionFields(Strict):
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    points_cost: PositivePoints | None = None
    max_claims_per_user: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    starts_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    code_expiry_days: Annotated[int, Field(ge=1, le=36500)] | None = None
    code_generation: CodeGeneration | None = None
    low_stock_threshold: Annotated[int, Field(ge=0, le=MAX_POINTS)] | None = None

    @model_validator(mode="after")
    def _window_is_ordered(self) -> _DefinitionFields:
        if self.starts_at and self.expires_at and self.expires_at <= self.starts_at:
            raise ValueError("expires_at must be later than starts_at")
        return self


class RewardDefinition(_DefinitionFields):
    name: Name
    type: RewardType


class RewardPatch(_DefinitionFields):
    """Only the fields present in the body change; `null` clears a nullable field."""

    name: Name | None = None
    type: RewardType | None = None
    max_claims_per_user: Annotated[int, Field(ge=1, le=1_000_000)] | None = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _required_fields_not_cleared(self) -> RewardPatch:
        for field in ("name", "type", "max_claims_per_user"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class CodeUpload(Strict):
    codes: Annotated[list[Code], Field(min_length=1, max_length=1_000_000)]


class PointsCredit(Strict):
    amount: PositivePoints
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class ClaimBody(Strict):
    participant_id: ParticipantId
    points_deduction: bool = False
