"""The one settings object, read from the environment (and `.env`) by API, worker and CLI."""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COFFER_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = "sqlite:///./coffer.db"
    broker_url: str | None = None  # None: Celery's in-process transport (embedded default)
    redis_url: str | None = None
    claim_wait_ms: int = Field(default=5000, ge=0, le=60_000)
    webhook_allow_private: bool = False
    webhook_retry_schedule: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    webhook_timeout_s: float = Field(default=10, gt=0, le=120)
    sweep_interval_s: float = Field(default=30, gt=0)
    rate_limit: str = "100/second"
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    claim_batch_size: int = Field(default=200, ge=1, le=5000)
    log_level: str = "INFO"

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("rate_limit")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        if not _RATE.match(value):
            raise ValueError("must look like '100/second' (second, minute, hour or day)")
        return value.strip()

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("Coffer runs on PostgreSQL (postgresql+psycopg://...) or SQLite")
        if value.startswith(("postgresql://", "postgres://")):
            # Plain postgresql:// would select psycopg2; Coffer speaks psycopg 3.
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @property
    def is_embedded(self) -> bool:
        """True when no broker is configured: the queue runs inside `coffer serve`."""
        return self.broker_url is None

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def rate_limit_parts(self) -> tuple[int, str]:
        match = _RATE.match(self.rate_limit)
        assert match is not None  # guaranteed by the validator
        return int(match.group(1)), match.group(2)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for this process, read once."""
    return Settings()
