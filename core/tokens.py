"""Participant tokens (CONTRACT §10): short-lived, browser-safe, read-only credentials.

A token is `cpt_` + a JWT (RFC 7519, HS256 through PyJWT) signed with
`derive("participant-tokens")` (core/instance_secret.py). Its claims name the
tenant, the mode, the participant, the id of the API key that issued it and
its expiry, so a request carrying one is authenticated from the token alone,
without a database query. The issuing key's revocation is still honoured, by
core/tokens_revocation.py (docs/clients.md states the bound).

The token is signed, not encrypted: its holder can read the claims (tenant id,
key id, participant id, expiry), none of which is a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import jwt
from pydantic import BaseModel, ConfigDict, Field

from core.clock import utcnow
from core.errors import Unauthorized
from core.instance_secret import derive
from core.schemas.tokens import ParticipantToken
from core.tenants import Mode, Principal

if TYPE_CHECKING:
    from core.runtime import Runtime

TOKEN_PREFIX = "cpt_"  # noqa: S105 - a prefix, not a secret
PURPOSE = "participant-tokens"  # the instance_secret purpose of the signing key
_AUDIENCE = "coffer:participant"
_ALGORITHM = "HS256"
TTL_MIN_S, TTL_DEFAULT_S, TTL_MAX_S = 60, 3600, 86_400


class TokenRequest(BaseModel):
    """POST /participants/{pid}/tokens: how long the token lives (CONTRACT §10)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    ttl_seconds: Annotated[int, Field(ge=TTL_MIN_S, le=TTL_MAX_S)] = Field(
        default=TTL_DEFAULT_S, description="Seconds until the token expires, 60 to 86400."
    )


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token allows: one participant's reads in one tenant and mode."""

    tenant_id: str
    mode: Mode
    participant_id: str
    key_id: str  # the API key that issued it; its revocation ends the token
    expires_at: datetime


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


class TokenInvalid(Unauthorized):
    """Expired, tampered with, or not a participant token: 401 unauthorized."""

    title = "Missing, expired or invalid participant token"


def issue_token(
    *, signing_key: bytes, principal: Principal, participant_id: str, ttl_seconds: int,
    now: datetime,
) -> IssuedToken:  # fmt: skip
    """A token for `participant_id` in the principal's tenant and mode, expiring
    `ttl_seconds` from `now` (whole seconds, as timestamps are written on the wire)."""
    issued = now.replace(microsecond=0)
    expires_at = issued + timedelta(seconds=ttl_seconds)
    claims: dict[str, Any] = {
        "aud": _AUDIENCE,
        "sub": participant_id,
        "ten": principal.tenant_id,
        "mod": principal.mode,
        "kid": principal.key_id,
        "iat": int(issued.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    encoded = jwt.encode(claims, signing_key, algorithm=_ALGORITHM)
    return IssuedToken(token=TOKEN_PREFIX + encoded, expires_at=expires_at)


def read_token(token: str, *, signing_key: bytes) -> TokenClaims:
    """The claims of a genuine, unexpired token; TokenInvalid otherwise. No I/O."""
    if not token.startswith(TOKEN_PREFIX):
        raise TokenInvalid()
    try:
        claims = jwt.decode(
            token.removeprefix(TOKEN_PREFIX),
            signing_key,
            algorithms=[_ALGORITHM],  # never the token's own choice ("none", RS256 confusion)
            audience=_AUDIENCE,
            options={"require": ["aud", "sub", "exp", "iat", "ten", "mod", "kid"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenInvalid("The participant token has expired; ask for a new one") from None
    except jwt.InvalidTokenError:
        raise TokenInvalid("The participant token is not valid") from None
    if claims["mod"] not in ("live", "test") or not all(
        isinstance(claims[name], str) and claims[name] for name in ("sub", "ten", "kid")
    ):
        raise TokenInvalid("The participant token is not valid")
    return TokenClaims(
        tenant_id=claims["ten"],
        mode=claims["mod"],
        participant_id=claims["sub"],
        key_id=claims["kid"],
        expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC),
    )


def signing_key(runtime: Runtime) -> bytes:
    """The key tokens are signed with: derived from the instance secret, per process."""
    return derive(PURPOSE, runtime=runtime)


def grant_token(
    runtime: Runtime, *, principal: Principal, participant_id: str, ttl_seconds: int
) -> ParticipantToken:
    """POST /participants/{pid}/tokens (CONTRACT §10): a token for that participant in the
    caller's tenant and mode. The participant needs no registration, as everywhere."""
    issued = issue_token(
        signing_key=signing_key(runtime),
        principal=principal,
        participant_id=participant_id,
        ttl_seconds=ttl_seconds,
        now=utcnow(),
    )
    return ParticipantToken(token=issued.token, expires_at=issued.expires_at)
