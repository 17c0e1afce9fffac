"""Readiness (GET /readyz, CONTRACT §9): each dependency by name, up or down.

The database and the broker are required: without the database nothing can be
answered, and without the broker accepted claims wait for the sweep. The Redis of
COFFER_REDIS_URL is not: rate limits then count per process and waits poll the
database (docs/resilience.md), so its loss makes the API `degraded`, still 200,
and a load balancer keeps sending traffic.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

from sqlalchemy import text

from core.schemas import DependencyCheck, Readiness, ReadinessChecks

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("coffer.readiness")
Status = Literal["up", "down", "not_configured"]


def readiness(runtime: Runtime) -> Readiness:
    """Ask each dependency once; `ready` (all up), `degraded` (only optional ones down) or
    `unavailable` (a required one down: the API answers /readyz with 503)."""
    checks = ReadinessChecks(
        database=DependencyCheck(status=_up(_database_answers(runtime)), required=True),
        broker=DependencyCheck(status=_up(runtime.waker.reachable()), required=True),
        redis=DependencyCheck(status=_redis_status(runtime), required=False),
    )
    statuses = [checks.database, checks.broker, checks.redis]
    if any(check.required and check.status == "down" for check in statuses):
        return Readiness(status="unavailable", checks=checks)
    if any(check.status == "down" for check in statuses):
        return Readiness(status="degraded", checks=checks)
    return Readiness(status="ready", checks=checks)


def _up(answered: bool) -> Status:
    return "up" if answered else "down"


def _database_answers(runtime: Runtime) -> bool:
    try:
        with runtime.db.autocommit() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception as error:
        log.warning("readiness: database unreachable (%s)", type(error).__name__)
        return False


def _redis_status(runtime: Runtime) -> Status:
    if runtime.redis is None:
        return "not_configured"
    try:
        return _up(bool(runtime.redis.ping()))
    except Exception as error:
        log.warning("readiness: Redis unreachable (%s)", type(error).__name__)
        return "down"
