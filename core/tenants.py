"""Tenants, API keys and authentication.

A key is `ck_<mode>_<43 url-safe random characters>`. Only its SHA-256 is
stored: the key carries 256 bits of entropy, so a slow password hash would buy
nothing and cost every request a few milliseconds.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import bindparam, select, update
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


def revoke_key(session: Session, *, prefix: str) -> None:
    """Revoke a key by its displayable prefix; effective on the key's next request."""
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"No active key with prefix {prefix}")


_KEY_LOOKUP = select(ApiKey.id, ApiKey.tenant_id, ApiKey.mode, ApiKey.scope).where(
    ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None)
)


def authenticate(session: Session, *, key: str | None) -> Principal:
    """The principal for a bearer key, or Unauthorized. Checked on every request, so a
    revoked key fails on its very next one."""
    if not key or not key.startswith(("ck_live_", "ck_test_")):
        raise Unauthorized()
    row = session.connection().execute(_KEY_LOOKUP, {"key_hash": hash_key(key)}).one_or_none()
    if row is None:
        raise Unauthorized()
    return Principal(key_id=row.id, tenant_id=row.tenant_id, mode=row.mode, scope=row.scope)
