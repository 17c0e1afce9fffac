"""Idempotency keys: parsing, request fingerprints, and recording under a key.

A key is scoped to tenant + mode and shared by every keyed endpoint. Recording
is `INSERT ... ON CONFLICT DO NOTHING`: when two requests race on one key, the
database makes the second wait for the first to commit and then see its row,
so exactly one of them ever acts (the reasoning warehouse's db.py gives for
retrying on a unique key).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import IdempotencyKeyMissing, IdempotencyKeyReused, ValidationFailed
from core.models import IdempotentRequest
from core.tenants import Principal

MAX_KEY_LENGTH = 255
_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")
_SF_STRING = re.compile(r'^"((?:[^"\\]|\\["\\])*)"$')


def parse_key(header: str | None) -> str:
    """The key from an Idempotency-Key header; `"abc"` (a structured-field string) is `abc`."""
    if header is None:
        raise IdempotencyKeyMissing()
    match = _SF_STRING.match(header.strip())
    key = re.sub(r"\\([\"\\])", r"\1", match.group(1)) if match else header
    if not key or len(key) > MAX_KEY_LENGTH or not _PRINTABLE.match(key):
        raise ValidationFailed(
            [{"field": "Idempotency-Key", "message": "must be 1-255 printable ASCII characters"}]
        )
    return key


def fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    """A digest of what makes two requests "the same": method, path, validated body.

    The body is compared after validation with defaults applied, so key order,
    whitespace and an explicit default do not make a retry a different request.
    """
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Recorded:
    """A request as recorded under its key; `fresh` when this call created it."""

    id: int
    claim_id: str | None
    status: str
    response_status: int | None
    response_body: dict[str, Any] | None
    fresh: bool

    @property
    def is_final(self) -> bool:
        return self.status != "pending"


_COLUMNS = (
    IdempotentRequest.id,
    IdempotentRequest.claim_id,
    IdempotentRequest.status,
    IdempotentRequest.response_status,
    IdempotentRequest.response_body,
    IdempotentRequest.fingerprint,
)


# Built once: recording runs on every keyed request.
_RECORD = {
    name: insert(IdempotentRequest)
    .on_conflict_do_nothing(index_elements=["tenant_id", "mode", "idempotency_key"])
    .returning(*_COLUMNS)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_EXISTING = select(*_COLUMNS).where(
    IdempotentRequest.tenant_id == bindparam("tenant_id"),
    IdempotentRequest.mode == bindparam("mode"),
    IdempotentRequest.idempotency_key == bindparam("key"),
)


def record(
    session: Session, *, principal: Principal, key: str, print_: str, values: dict[str, Any]
) -> Recorded:
    """Record a request under its key, or return the one already there (422 if it differs)."""
    row = {
        "tenant_id": principal.tenant_id,
        "mode": principal.mode,
        "idempotency_key": key,
        "fingerprint": print_,
        "created_at": utcnow(),
        **values,
    }
    # On the Core connection: through Session.execute an insert takes the ORM bulk path.
    connection = session.connection()
    inserted = connection.execute(_RECORD[connection.dialect.name], row).one_or_none()
    if inserted is not None:
        return _recorded(inserted, fresh=True)
    existing = connection.execute(
        _EXISTING, {"tenant_id": principal.tenant_id, "mode": principal.mode, "key": key}
    ).one()
    if existing.fingerprint != print_:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was first used for a different request "
            "(method, path or body); use a new key for a new request"
        )
    return _recorded(existing, fresh=False)


def _recorded(row: Any, *, fresh: bool) -> Recorded:
    return Recorded(
        id=row.id,
        claim_id=row.claim_id,
        status=row.status,
        response_status=row.response_status,
        response_body=row.response_body,
        fresh=fresh,
    )


def complete(
    session: Session, *, request_id: int, status: str, response_status: int, body: dict[str, Any]
) -> Recorded:
    """Store a request's final outcome, which every replay then returns."""
    session.execute(
        update(IdempotentRequest)
        .where(IdempotentRequest.id == request_id)
        .values(
            status=status,
            response_status=response_status,
            response_body=body,
            completed_at=utcnow(),
        )
    )
    return Recorded(request_id, None, status, response_status, body, fresh=True)
