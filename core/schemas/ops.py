"""Operations shapes (CONTRACT §9): liveness and readiness."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.schemas.common import Wire


class Health(Wire):
    """The process is up."""

    status: Literal["ok"] = "ok"


class ReadinessChecks(Wire):
    """Whether each dependency answered."""

    database: bool = Field(description="The database answered `SELECT 1`.")
    broker: bool = Field(description="The Celery broker accepted a connection.")


class Readiness(Wire):
    """Ready (200) when the database and the broker both answer, else unavailable (503)."""

    status: Literal["ready", "unavailable"]
    checks: ReadinessChecks
