"""A claim's outcome: how it was decided, as the waiting API request will answer it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Outcome:
    claim_id: str
    claim_pk: int
    record_id: int  # the claim's idempotency journal row, which stores the response
    status: str  # succeeded | failed
    response_status: int  # 201, or the problem's status
    body: dict[str, Any]
    request_id: str | None
    error_code: str | None
    accepted_at: datetime

    @property
    def label(self) -> str:
        """The outcome as a metrics label: `succeeded` or the error code."""
        return self.error_code or self.status
