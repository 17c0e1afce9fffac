"""Bearer authentication, scopes and rate limits for the /api/v1/gamify endpoints.

Two kinds of bearer credential:
- an API key (`ck_live_...`, `ck_test_...`; CONTRACT §2), looked up by its hash, through
  a per-process cache that every revocation empties (core/key_cache.py);
- a participant token (`cpt_...`; CONTRACT §10), verified from its signature alone
  (core/tokens.py), its issuing key's revocation checked through a per-process
  cache (core/tokens_revocation.py). It may only GET its own participant's rewards
  and points, from no Origin or an origin in COFFER_CORS_ORIGINS; anything else is
  403 forbidden, an expired or tampered token 401 unauthorized.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import g, request

from api.bodies import participant_id_from
from api.cors import PARTICIPANT_READ_PATHS
from api.services import services
from core.errors import Forbidden
from core.tenants import Principal, authenticate
from core.tokens import TOKEN_PREFIX, read_token, signing_key

F = TypeVar("F", bound=Callable[..., object])

# The only endpoints a participant token may call (GET, and HEAD which Flask adds).
PARTICIPANT_READS = frozenset({"participants.rewards", "participants.balance"})
_READ_METHODS = frozenset({"GET", "HEAD"})


def load_principal() -> None:
    """before_request: 401 without a valid credential, 403 for a token outside its reach,
    then count the request against its rate limit."""
    if request.method == "OPTIONS" and PARTICIPANT_READ_PATHS.match(request.path):
        # A CORS preflight carries no credential; api/cors.py answers it. (By path: the
        # points path's OPTIONS routes to the credit endpoint, which shares it.)
        return
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    given = credential.strip() if scheme.lower() == "bearer" else None
    svc = services()
    if given is not None and given.startswith(TOKEN_PREFIX):
        g.principal, bucket = _token_principal(given)
        svc.limiter.check(bucket)
        return
    g.principal, counted = svc.runtime.key_cache.authenticate(
        given, lookup=_key_principal, count=svc.limiter.count
    )
    counted.enforce()  # only now: a revoked key is 401 even past its limit


def _key_principal(key: str) -> Principal:
    """The principal for an API key, asked of the database (401 if unknown or revoked)."""
    with services().runtime.db.autocommit() as session:
        return authenticate(session, key=key)


def _token_principal(token: str) -> tuple[Principal, str]:
    """The principal a participant token speaks as, and its rate-limit bucket."""
    runtime = services().runtime
    claims = read_token(token, signing_key=signing_key(runtime))  # 401: expired, tampered
    runtime.key_liveness.require_live(claims.key_id, db=runtime.db, redis=runtime.redis)
    if request.endpoint not in PARTICIPANT_READS or request.method not in _READ_METHODS:
        raise Forbidden("A participant token may only read its participant's rewards and points")
    path_id = participant_id_from((request.view_args or {}).get("participant_id", ""))
    if path_id != claims.participant_id:
        raise Forbidden("This participant token is for another participant")
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() not in runtime.settings.cors_origins:
        raise Forbidden("Participant tokens are accepted only from COFFER_CORS_ORIGINS")
    principal = Principal(
        key_id=claims.key_id, tenant_id=claims.tenant_id, mode=claims.mode, scope="server"
    )
    # Each participant's browser gets its own budget, so a storefront's visitors never
    # use up the server key's (the id is hashed: rate-limit keys may sit in Redis).
    participant = hashlib.sha256(claims.participant_id.encode()).hexdigest()[:32]
    return principal, f"{claims.key_id}:cpt:{participant}"


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
