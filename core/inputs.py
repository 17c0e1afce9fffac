"""Validated commands: the request bodies Coffer accepts, as pydantic models.

Unknown fields are refused (no mass assignment), and types are strict: "5" is
not an integer and 1 is not a boolean.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic import (
    Strict as StrictType,
)

RewardType = Literal["coupon", "voucher", "physical", "digital", "points_multiplier"]
PRINTABLE = r"^[\x20-\x7e]+$"
PRINTABLE_NO_SPACE = r"^[\x21-\x7e]*$"
MAX_POINTS = 10**12

# What each pattern above means, in the words an error message uses (pydantic would
# quote the regex itself: "String should match pattern '^[\x20-\x7e]+$'").
_PATTERN_WORDS = {
    PRINTABLE: "must be printable ASCII characters only (0x20-0x7E)",
    PRINTABLE_NO_SPACE: "must be printable ASCII characters other than space only (0x21-0x7E)",
}


def plain_message(message: str) -> str:
    """A validation message as a reader should see it: no pydantic wording.

    "Value error, must be a number" -> "must be a number" (the prefix pydantic puts on
    a ValueError raised by a validator); a pattern mismatch -> the pattern in words.
    """
    message = message.removeprefix("Value error, ")
    for pattern, words in _PATTERN_WORDS.items():
        if message == f"String should match pattern '{pattern}'":
            return words
    return message


def _no_nul(value: str) -> str:
    """PostgreSQL cannot store NUL in text: refuse it here rather than fail on insert."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def whole_number_within(raw: str, low: int, high: int) -> bool:
    """Whether query text is a plain decimal integer from `low` to `high` (both >= 0).

    Only ASCII digits (str.isdigit() also takes "²", which int() refuses), and no
    more digits than `high` has: int() of thousands of digits is slow, and past
    4,300 it raises an error whose text names Python internals.
    """
    return (
        raw.isascii() and raw.isdigit() and len(raw) <= len(str(high)) and low <= int(raw) <= high
    )


def _four_digit_utc_year(value: datetime) -> datetime:
    """In UTC, within the years the wire format (RFC 3339, four-digit years) can show."""
    try:
        value = value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("is out of range") from error
    if value.year < 1000:
        raise ValueError("is out of range")
    return value


NoNul = AfterValidator(_no_nul)
Timestamp = Annotated[AwareDatetime, AfterValidator(_four_digit_utc_year)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul]
# Cc: control characters (C0, DEL and C1 such as U+0085); Cf: formatting characters such
# as U+202E, which make an id display as another; Cs: lone surrogates, which have no UTF-8.
# Zl, Zp: U+2028 and U+2029 break lines in logs, CSV exports and JavaScript source.
_UNADDRESSABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_DOT_SEGMENTS = frozenset({".", ".."})


def _addressable_participant_id(value: str) -> str:
    """CONTRACT §5: an id every ordinary client can put in a path and that means one participant.

    Clients (curl, requests, browsers) remove `.` and `..` path segments before sending,
    so an id holding one would reach another participant's URL: it is refused. Empty
    segments (`/acct-7`, `a//b`, `x/`) are kept by every client and are fine.
    """
    if value != value.strip():
        raise ValueError("must not start or end with whitespace")
    for char in value:
        if unicodedata.category(char) in _UNADDRESSABLE_CATEGORIES:
            raise ValueError(
                "must not contain control, formatting or line-break characters"
                f" (found U+{ord(char):04X})"
            )
    if any(segment in _DOT_SEGMENTS for segment in value.split("/")):
        raise ValueError("must not contain '.' or '..' path segments (clients remove them)")
    return value


ParticipantId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    AfterValidator(_addressable_participant_id),
]
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=PRINTABLE)
]
PositivePoints = Annotated[int, Field(ge=1, le=MAX_POINTS)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CodeGeneration(Strict):
    prefix: Annotated[str, StringConstraints(max_length=50, pattern=PRINTABLE_NO_SPACE)] = ""
    length: Annotated[int, Field(ge=4, le=64)] = 8


def _json_number(value: object) -> object:
    """Only a JSON number (not its text, not a boolean): the field is typed `number`."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    return value


class Multiplier(Strict):
    """A points_multiplier reward's effect (CONTRACT §7; bounds in docs/multipliers.md)."""

    # A JSON number with at most 2 decimal places, read as a Decimal: 1.1 stays exactly 1.1.
    factor: Annotated[
        Decimal,
        BeforeValidator(_json_number),
        Field(gt=1, le=10, max_digits=4, decimal_places=2),
        StrictType(False),
        WithJsonSchema(
            {
                "type": "number",
                "exclusiveMinimum": 1,
                "maximum": 10,
                "description": "Greater than 1, at most 10, at most 2 decimal places.",
            }
        ),
    ]
    duration_days: Annotated[int, Field(ge=1, le=3650)]


class Fulfillment(Strict):
    """CONTRACT §7: deliver each claim to this endpoint; on a final failure keep or reverse it."""

    endpoint_id: Annotated[str, StringConstraints(min_length=1, max_length=40), NoNul]
    on_failure: Literal["keep", "reverse"] = "keep"


class _DefinitionFields(Strict):
    description: Annotated[str, StringConstraints(max_length=2000), NoNul] | None = None
    points_cost: PositivePoints | None = None
    max_claims_per_user: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    starts_at: Timestamp | None = None
    expires_at: Timestamp | None = None
    code_expiry_days: Annotated[int, Field(ge=1, le=36500)] | None = None
    code_generation: CodeGeneration | None = None
    low_stock_threshold: Annotated[int, Field(ge=0, le=MAX_POINTS)] | None = None
    # Required for type points_multiplier, refused for the others (core/catalog.py checks
    # the definition as it ends up, so a PATCH of either field is held to it too).
    multiplier: Multiplier | None = None
    fulfillment: Fulfillment | None = None

    @field_validator("expires_at")
    @classmethod
    def _window_is_ordered(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        # A field validator (not a model one), so the error names expires_at.
        starts_at = info.data.get("starts_at")
        if starts_at and value and value <= starts_at:
            raise ValueError("must be later than starts_at")
        return value


class RewardDefinition(_DefinitionFields):
    name: Name
    type: RewardType


class RewardPatch(_DefinitionFields):
    """Only the fields present in the body change; `null` clears a nullable field."""

    name: Name | None = None
    type: RewardType | None = None
    max_claims_per_user: Annotated[int, Field(ge=1, le=1_000_000)] | None = None  # type: ignore[assignment]

    @field_validator("name", "type", "max_claims_per_user")
    @classmethod
    def _required_fields_not_cleared(cls, value: object) -> object:
        # Runs only for fields present in the body, and names the field it refuses.
        if value is None:
            raise ValueError("cannot be null")
        return value


class FulfillmentReport(Strict):
    """POST /claims/{id}/fulfillment (CONTRACT §7): a fulfillment team's late word."""

    status: Literal["fulfilled", "failed"]
    reference: Annotated[str, StringConstraints(max_length=500), NoNul] | None = None


class CodeUpload(Strict):
    codes: Annotated[list[Code], Field(min_length=1, max_length=1_000_000)]


class PointsCredit(Strict):
    amount: PositivePoints
    reason: Annotated[str, StringConstraints(max_length=500), NoNul] | None = None


class ClaimBody(Strict):
    participant_id: ParticipantId
    points_deduction: bool = False


class ReversalBody(Strict):
    """POST /claims/{id}/reverse (CONTRACT §7)."""

    reason: Annotated[str, StringConstraints(max_length=500), NoNul] | None = None
    restock: bool = False


class CampaignBody(Strict):
    """POST /campaigns as JSON (CONTRACT §8); ids are checked one by one, with positions."""

    reward_id: Annotated[str, StringConstraints(min_length=1, max_length=40), NoNul]
    participant_ids: Annotated[list[str], Field(min_length=1, max_length=1_000_000)]
    points_deduction: bool = False
    name: Name | None = None
