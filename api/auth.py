"""Bearer-key authentication, scopes and rate limits for the /api/v1/gamify endpoints."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import g, request

from api.services import services
from core.errors import Forbidden
from core.tenants import Principal, authenticate

F = TypeVar("F", bound=Callable[..., object])


def load_principal() -> None:
    """before_request: 401 without a valid key, then count the request against the key's limit."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    svc = services()
    with svc.runtime.db.autocommit() as session:
        principal = authenticate(session, key=key.strip() if scheme.lower() == "bearer" else None)
    g.principal = principal
    svc.limiter.check(principal.key_id)


def principal() -> Principal:
    return g.principal


def admin_only(view: F) -> F:
    """403 for a server key on an admin endpoint."""

    @wraps(view)
    def wrapper(*args: object, **kwargs: object) -> object:
        if not principal().is_admin:
            raise Forbidden("This endpoint needs an admin key")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
