"""Webhook endpoints, one delivery per (fact, endpoint), and every attempt made (CONTRACT §7)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.models.base import Base, BigId, Json, TenantScoped

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class WebhookEndpoint(TenantScoped, Base):
    """A receiver URL and the secret(s) its deliveries are signed with.

    The secrets are stored sealed (AES-GCM, core/webhooks/secret_box.py), never in
    plaintext; `sealed_previous_secret` keeps signing until
    `previous_secret_expires_at` after a rotation. Deleting an endpoint stamps
    `deleted_at` and ends its pending deliveries (core/webhooks/removal.py); the row stays,
    so its deliveries (and the claims a fulfillment points at) stay readable.
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_tenant_mode_id", "tenant_id", "mode", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(String(40), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(Json)
    description: Mapped[str | None] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    sealed_secret: Mapped[str] = mapped_column(String(255))
    sealed_previous_secret: Mapped[str | None] = mapped_column(String(255))
    previous_secret_expires_at: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]  # first failed attempt since the last success
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class WebhookDelivery(TenantScoped, Base):
    """One fact to one endpoint: attempted until delivered or the schedule runs out.

    `next_attempt_at` is the schedule (no broker countdowns). `queued_until`
    says a task for it is already on the queue (the periodic job leaves it
    alone until then); `sending_until` is the lease of the attempt in flight,
    which also counts against the endpoint's concurrency cap.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("fact_id", "endpoint_pk"),
        CheckConstraint(f"status IN {DELIVERY_STATUSES}", name="status"),
        Index("ix_webhook_deliveries_endpoint_pk_id", "endpoint_pk", "id"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        # Attempts in flight, counted against an endpoint's cap; leases are cleared when done.
        Index(
            "ix_webhook_deliveries_sending",
            "endpoint_pk",
            postgresql_where=text("sending_until IS NOT NULL"),
            sqlite_where=text("sending_until IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(40), unique=True)
    fact_id: Mapped[int] = mapped_column(BigId, ForeignKey("facts.id"))
    endpoint_pk: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_endpoints.id"))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    queued_until: Mapped[datetime | None]
    sending_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: what came back, or why nothing did."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_pk_id", "delivery_pk", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_pk: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_deliveries.id"))
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)  # at most RESPONSE_BODY_CAP bytes
