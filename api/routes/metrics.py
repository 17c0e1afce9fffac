"""GET /metrics: Prometheus text, no key needed."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from core.metrics import CofferCollector
from core.runtime import Runtime
from workers.celery_app import QUEUE


def blueprint(runtime: Runtime) -> Blueprint:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CofferCollector(runtime.db, runtime.stats, _broker_depth(runtime)))
    bp = Blueprint("metrics", __name__)

    @bp.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    return bp


def _broker_depth(runtime: Runtime) -> Callable[[], int] | None:
    """Length of the Celery queue when the broker is Redis."""
    broker_url = runtime.settings.broker_url
    if not broker_url or not broker_url.startswith(("redis://", "rediss://")):
        return None
    import redis  # noqa: PLC0415

    client = redis.Redis.from_url(broker_url, socket_connect_timeout=2)
    return lambda: int(client.llen(QUEUE))
