"""Catalog shapes (CONTRACT §4): the catalog entry, a page of them, a code upload's result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr, SerializerFunctionWrapHandler, model_serializer
from pydantic.json_schema import SkipJsonSchema

from core.inputs import RewardType
from core.schemas.common import Count, Timestamp, Wire, id_field

RewardStatus = Literal["active", "scheduled", "expired", "inactive"]
# Members only admin keys see (CONTRACT §4); other keys get the entry without them.
ADMIN_MEMBERS = ("code_generation", "multiplier", "fulfillment")


def _admin_only(description: str) -> Any:
    """An admin-only member: always written (null included) for admin keys, absent otherwise,
    so the document lists it without marking it required."""
    return Field(
        default=None,
        description=f"Admin keys only. {description}",
        json_schema_extra=_no_default,
    )


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class CodeGenerationShape(Wire):
    """How codes are made once no pre-loaded code is left."""

    prefix: str = Field(description="Text before the random part.")
    length: Annotated[int, Field(ge=1)] = Field(description="Random characters after the prefix.")


class MultiplierShape(Wire):
    """A points_multiplier reward's effect (CONTRACT §7, docs/multipliers.md)."""

    factor: float = Field(description="Credits in the window are floor(amount * factor).")
    duration_days: Annotated[int, Field(ge=1)] = Field(
        description="Days the factor applies from the claim's claimed_at."
    )


class Eligibility(Wire):
    """What a claim with points_deduction by the participant asked about would meet now."""

    eligible: bool = Field(description="Whether such a claim would pass every check right now.")
    reason: str | None = Field(
        description="The error code the claim would get (e.g. `insufficient_points`), else null."
    )
    claims_held: Count = Field(description="Claims of this reward the participant holds.")


def _admin_members_optional(schema: dict[str, Any]) -> None:
    schema["required"] = [name for name in schema["required"] if name not in ADMIN_MEMBERS]


class FulfillmentView(Wire):
    """A definition's fulfillment (CONTRACT §7): where each claim is delivered, and on failure."""

    endpoint_id: Annotated[str, id_field("whe", "The webhook endpoint each claim is delivered to.")]
    on_failure: Literal["keep", "reverse"] = Field(
        description="What a delivery that failed its whole retry schedule does to the claim: "
        "`keep` it (fulfillment_status `failed`) or `reverse` it (restocked, reason "
        "`fulfillment_failed`)."
    )


class RewardEntry(Wire):
    """A catalog entry: a reward definition as it stands, with its stock read now."""

    model_config = ConfigDict(json_schema_extra=_admin_members_optional)

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
    code_generation: CodeGenerationShape | None = _admin_only(
        "Codes generated when no pre-loaded one is left; null = none generated."
    )
    multiplier: MultiplierShape | None = _admin_only(
        "A points_multiplier reward's factor and duration; null for other types."
    )
    fulfillment: FulfillmentView | None = _admin_only(
        "Each claim is delivered to this webhook endpoint (CONTRACT §7); null = nothing to fulfil."
    )
    eligibility: Annotated[
        Eligibility | SkipJsonSchema[None],
        Field(
            description="Present in a listing with `?participant_id=`: that participant's "
            "eligibility, decided by the claim planner's own checks (a forecast, not a "
            "reservation).",
            exclude_if=lambda value: value is None,  # absent, never null, on the wire
            json_schema_extra=lambda schema: schema.pop("default", None),
        ),
    ] = None
    _admin: bool = PrivateAttr(default=False)

    def for_admin(self, admin: bool) -> RewardEntry:
        """This entry with the admin-only members shown (admin keys) or left out."""
        self._admin = admin
        return self

    @model_serializer(mode="wrap")
    # No return annotation: with one, pydantic would document the entry as that type.
    def _hide_admin_members(self, handler: SerializerFunctionWrapHandler):
        data = handler(self)
        if not self._admin:
            for name in ADMIN_MEMBERS:
                data.pop(name, None)
        return data


class RewardPage(Wire):
    """One page of active, started, unexpired rewards in creation order."""

    rewards: list[RewardEntry] = Field(description="This page's entries.")
    total: Count = Field(description="All matching rewards, not just this page.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )

    def with_eligibility(self, verdicts: Mapping[str, Mapping[str, Any]]) -> RewardPage:
        """This page with each entry's `eligibility` (reward id -> verdict) filled in."""
        entries = [
            entry.model_copy(update={"eligibility": Eligibility.model_validate(verdicts[entry.id])})
            for entry in self.rewards
        ]
        return self.model_copy(update={"rewards": entries})


class CodeUploadResult(Wire):
    """What a code upload did: codes added, codes refused as present or repeated, codes left."""

    added: Count = Field(description="Codes new to this reward, now in its inventory.")
    duplicates: Count = Field(
        description="Codes already present or repeated within the upload (added once)."
    )
    available_codes: Count = Field(description="Unallocated codes left after the upload.")
