"""Operations shapes (CONTRACT §9): liveness and readiness."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.schemas.common import Wire


class Health(Wire):
    """The process is up."""

    status: Literal["ok"] = "ok"


class DependencyCheck(Wire):
    """One dependency as this API process sees it right now."""

    status: Literal["up", "down", "not_configured"] = Field(
        description="`up`: it answered; `down`: it did not; `not_configured`: not in use "
        "(COFFER_REDIS_URL unset)."
    )
    required: bool = Field(description="Whether the API is unavailable (503) while it is down.")


class ReadinessChecks(Wire):
    """Each dependency by name."""

    database: DependencyCheck = Field(description="The database answered `SELECT 1`.")
    broker: DependencyCheck = Field(description="The Celery broker accepted a connection.")
    redis: DependencyCheck = Field(
        description="The Redis of COFFER_REDIS_URL answered PING (rate limits, claim notices). "
        "Optional: while it is down rate limits count per process and waits poll the database."
    )


class Readiness(Wire):
    """`ready` (200) when every dependency answers; `degraded` (200) when only an optional
    one is down; `unavailable` (503) when the database or the broker is down."""

    status: Literal["ready", "degraded", "unavailable"]
    checks: ReadinessChecks
