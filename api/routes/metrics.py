"""GET /metrics: Prometheus text, no key needed."""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from core.metrics import CofferCollector, delivery_stats
from core.runtime import Runtime


def blueprint(runtime: Runtime) -> Blueprint:
    registry = CollectorRegistry(auto_describe=False)
    collector = CofferCollector(
        runtime.db, runtime.stats, runtime.waker.depth, deliveries=delivery_stats(runtime.redis)
    )
    registry.register(collector)
    bp = Blueprint("metrics", __name__)

    @bp.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    return bp
