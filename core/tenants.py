"""Tenants, API keys and authentication.

A key is `ck_<mode>_<43 url-safe random characters>`. Only its SHA-256 is
stored: the key carries 256 bits of entropy, so a slow password hash would buy
nothing and cost every request a few milliseconds.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from sqlalchemy import bindparam, event, select, update
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import NotFound, Unauthorized
from core.ids import new_id
from core.models import ApiKey, Tenant

Mode = Literal["live", "test"]
Scope = Literal["admin", "server"]
MODES: tuple[Mode, ...] = ("live", "test")
SCOPES: tuple[Scope, ...] = ("admin", "server")
_PREFIX_RANDOM_CHARS = 8


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant, the mode every query is confined to, and the scope."""

    key_id: str
    tenant_id: str
    mode: Mode
    scope: Scope

    @property
    def is_admin(self) -> bool:
        return self.scope == "admin"


@dataclass(frozen=True)
class IssuedKey:
    key: str
    prefix: str
    tenant_id: str
    mode: Mode
    scope: Scope

    def as_dict(self) -> dict[str, str]:
        return {
            "key": self.key,
            "prefix": self.prefix,
            "tenant_id": self.tenant_id,
            "mode": self.mode,
            "scope": self.scope,
        }


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_tenant(session: Session, *, name: str) -> tuple[Tenant, dict[str, dict[str, str]]]:
    """Create a tenant with an admin and a server key in each mode."""
    tenant = Tenant(id=new_id("ten"), name=name)
    session.add(tenant)
    session.flush()
    keys: dict[str, dict[str, str]] = {
        mode: {
            scope: issue_key(session, tenant_id=tenant.id, mode=mode, scope=scope).key
            for scope in SCOPES
        }
        for mode in MODES
    }
    return tenant, keys


def issue_key(session: Session, *, tenant_id: str, mode: Mode, scope: Scope) -> IssuedKey:
    """Create a key; the returned full key is never retrievable again."""
    if session.get(Tenant, tenant_id) is None:
        raise NotFound(f"No tenant {tenant_id}")
    key = f"ck_{mode}_{secrets.token_urlsafe(32)}"
    prefix = key[: len(f"ck_{mode}_") + _PREFIX_RANDOM_CHARS]
    session.add(
        ApiKey(
            id=new_id("key"),
            tenant_id=tenant_id,
            mode=mode,
            scope=scope,
            prefix=prefix,
            key_hash=hash_key(key),
        )
    )
    session.flush()
    return IssuedKey(key=key, prefix=prefix, tenant_id=tenant_id, mode=mode, scope=scope)


@dataclass
class Revocation:
    """The keys one revoke_key call revoked; `announced` turns True after the commit once
    every process has been told through Redis (core/tokens_revocation.py)."""

    key_ids: list[str]
    announced: bool = False

    def announce(self, redis: Any | None) -> None:
        from core.tokens_revocation import announce_revoked  # noqa: PLC0415 - imports this module

        self.announced = announce_revoked(redis, self.key_ids)


def revoke_key(session: Session, *, prefix: str, redis: Any | None) -> Revocation:
    """Revoke a key by its displayable prefix, in the caller's transaction (`db.transaction()`);
    effective on the key's next request in every API process once it commits (CONTRACT §2).

    The caches that spare a request its key lookup (core/key_cache.py, and the one for
    participant tokens in core/tokens_revocation.py) learn of it through `redis`, the
    runtime's client (None: no Redis, so no process caches keys). They are told after the
    commit, never before: a process told earlier could look the key up, find it still live
    and cache it. NotFound if no active key has the prefix.
    """
    key_ids = list(
        session.scalars(
            update(ApiKey)
            .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .returning(ApiKey.id)
        )
    )
    if not key_ids:
        raise NotFound(f"No active key with prefix {prefix}")
    revocation = Revocation(key_ids)
    # Fired only by a commit (a rollback announces nothing; an extra announcement would
    # only cost the caches a refill, a missing one would leave the key cached as live).
    event.listen(session, "after_commit", lambda _: revocation.announce(redis), once=True)
    return revocation


_KEY_LOOKUP = select(ApiKey.id, ApiKey.tenant_id, ApiKey.mode, ApiKey.scope).where(
    ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None)
)


def is_key_shaped(key: str | None) -> TypeGuard[str]:
    """True for a string that may be an API key (`ck_live_...`, `ck_test_...`; CONTRACT §2)."""
    return key is not None and key.startswith(("ck_live_", "ck_test_"))


def authenticate(session: Session, *, key: str | None) -> Principal:
    """The principal for a bearer key, asked of the database, or Unauthorized for a
    missing, unknown or revoked key (core/key_cache.py spares the API most of these)."""
    if not is_key_shaped(key):
        raise Unauthorized()
    row = session.connection().execute(_KEY_LOOKUP, {"key_hash": hash_key(key)}).one_or_none()
    if row is None:
        raise Unauthorized()
    return Principal(key_id=row.id, tenant_id=row.tenant_id, mode=row.mode, scope=row.scope)
