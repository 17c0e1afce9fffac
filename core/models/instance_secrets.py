"""The instance secret kept in the database when COFFER_SECRET_KEY is not set."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.models.base import Base


class InstanceSecret(Base):
    """One row per named secret; the primary key makes its creation race-safe."""

    __tablename__ = "instance_secrets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    secret: Mapped[str] = mapped_column(String(100))  # base64url of 32 random bytes
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
