"""The idempotency journal: every keyed request, its fingerprint and the response first given."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.models.base import Base, BigId, TenantScoped

# What a key was first used for; one key space per tenant and mode across all of them,
# so reusing a key on another endpoint is a different request (422).
JOURNAL_KINDS = ("claim", "points_credit", "campaign", "reversal")


class IdempotencyRecord(TenantScoped, Base):
    """A request recorded under its Idempotency-Key (CONTRACT §6, guarantee 1).

    `resource_id` names what the request created (a claim id, a ledger entry id,
    ...). The response is stored once, when the request is final, and every
    replay returns it byte for byte, whatever happens to the resource later.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        CheckConstraint("kind IN ('claim', 'points_credit', 'campaign', 'reversal')", name="kind"),
        Index(
            "uq_idempotency_keys_tenant_mode_key",
            "tenant_id",
            "mode",
            "idempotency_key",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    resource_id: Mapped[str | None] = mapped_column(String(40))
    response_status: Mapped[int | None]
    response_body: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    @property
    def is_final(self) -> bool:
        return self.response_status is not None
