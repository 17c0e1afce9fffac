"""What a request handler needs, built once per app from the process runtime."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from api.ratelimit import RateLimiter
from core.runtime import Runtime


@dataclass
class Services:
    runtime: Runtime
    limiter: RateLimiter


def services() -> Services:
    return current_app.extensions["coffer"]
