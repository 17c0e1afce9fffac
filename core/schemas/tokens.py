"""Participant token shapes (CONTRACT §10)."""

from __future__ import annotations

from pydantic import Field

from core.schemas.common import Timestamp, Wire


class ParticipantToken(Wire):
    """A short-lived token that may only read one participant's rewards and points."""

    token: str = Field(
        description="`cpt_` and a signed token; send it as `Authorization: Bearer cpt_...`.",
        pattern=r"^cpt_[A-Za-z0-9_.-]+$",
        examples=["cpt_eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOi...sig"],
    )
    expires_at: Timestamp = Field(description="When the token stops working.")
