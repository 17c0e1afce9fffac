"""Idempotency keys: parsing, request fingerprints, and the journal (CONTRACT §6, guarantee 1).

A key is scoped to tenant + mode and shared by every keyed endpoint (claims,
points credits, reversals, campaigns). Recording is `INSERT ... ON CONFLICT DO
NOTHING`: when two requests race on one key, the database makes the second
wait for the first to commit and then see its row, so exactly one of them ever
acts (the reasoning warehouse's db.py gives for retrying on a unique key).
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
from core.models import IdempotencyRecord
from core.tenants import Principal

MAX_KEY_LENGTH = 255
_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")
_SF_STRING = re.compile(r'^"((?:[^"\\]|\\["\\])*)"$')
# The header values parse_key accepts, as a pattern the OpenAPI document publishes
# (ECMA-262 and Python alike): 1-255 printable ASCII characters, or a structured-field
# string holding 1-255 of them (`"` and `\\` escaped) - but not `""`, the empty key.
KEY_PATTERN = r'^(?!""$)(?:[\x20-\x7e]{1,255}|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\]){1,255}")$'


def parse_key(header: str | None) -> str:
    """The key from an Idempotency-Key header; `"abc"` (a structured-field string) is `abc`.

    Raises IdempotencyKeyMissing without a header, ValidationFailed unless the key is
    1-255 printable ASCII characters.
    """
    if header is None:
        raise IdempotencyKeyMissing()
    header = header.strip(" \t")  # RFC 9110 §5.5: surrounding whitespace is not the value
    match = _SF_STRING.match(header)
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
    """A request as journalled under its key; `fresh` when this call recorded it."""

    id: int
    resource_id: str | None
    response_status: int | None
    response_body: dict[str, Any] | None
    fresh: bool

    @property
    def is_final(self) -> bool:
        return self.response_status is not None


COLUMNS = (
    IdempotencyRecord.id,
    IdempotencyRecord.resource_id,
    IdempotencyRecord.response_status,
    IdempotencyRecord.response_body,
    IdempotencyRecord.fingerprint,
)
# Built once: recording runs on every keyed request.
_RECORD = {
    name: insert(IdempotencyRecord)
    .on_conflict_do_nothing(index_elements=["tenant_id", "mode", "idempotency_key"])
    .returning(*COLUMNS)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_EXISTING = select(*COLUMNS).where(
    IdempotencyRecord.tenant_id == bindparam("tenant_id"),
    IdempotencyRecord.mode == bindparam("mode"),
    IdempotencyRecord.idempotency_key == bindparam("key"),
)


def journal_row(
    *, principal: Principal, key: str, print_: str, kind: str, resource_id: str | None
) -> dict[str, Any]:
    return {
        "tenant_id": principal.tenant_id,
        "mode": principal.mode,
        "idempotency_key": key,
        "fingerprint": print_,
        "kind": kind,
        "resource_id": resource_id,
        "created_at": utcnow(),
    }


def record(
    session: Session,
    *,
    principal: Principal,
    key: str,
    print_: str,
    kind: str,
    resource_id: str | None = None,
) -> Recorded:
    """Journal a request under its key, or return the one already there.

    Raises IdempotencyKeyReused (422) when the key was first used for a different request.
    """
    row = journal_row(
        principal=principal, key=key, print_=print_, kind=kind, resource_id=resource_id
    )
    # On the Core connection: through Session.execute an insert takes the ORM bulk path.
    connection = session.connection()
    inserted = connection.execute(_RECORD[connection.dialect.name], row).one_or_none()
    if inserted is not None:
        return recorded_from(inserted, fresh=True)
    return existing(session, principal=principal, key=key, print_=print_)


def existing(session: Session, *, principal: Principal, key: str, print_: str) -> Recorded:
    """The journal row already under `key`; IdempotencyKeyReused if its fingerprint differs."""
    found = (
        session.connection()
        .execute(_EXISTING, {"tenant_id": principal.tenant_id, "mode": principal.mode, "key": key})
        .one()
    )
    if found.fingerprint != print_:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was first used for a different request "
            "(method, path or body); use a new key for a new request"
        )
    return recorded_from(found, fresh=False)


def recorded_from(row: Any, *, fresh: bool) -> Recorded:
    return Recorded(
        id=row.id,
        resource_id=row.resource_id,
        response_status=row.response_status,
        response_body=row.response_body,
        fresh=fresh,
    )


_COMPLETE = (
    update(IdempotencyRecord)
    .where(IdempotencyRecord.id == bindparam("record_id"))
    .values(
        response_status=bindparam("status"),
        response_body=bindparam("body"),
        completed_at=bindparam("at"),
    )
)


def complete(
    session: Session, *, record_id: int, response_status: int, body: dict[str, Any]
) -> Recorded:
    """Store a request's final response, which every replay then returns."""
    complete_many(session, [(record_id, response_status, body)])
    return Recorded(record_id, None, response_status, body, fresh=True)


def complete_many(session: Session, responses: list[tuple[int, int, dict[str, Any]]]) -> None:
    """Store final responses for (journal id, HTTP status, body) triples in one statement."""
    if not responses:
        return
    now = utcnow()
    session.connection().execute(
        _COMPLETE,
        [{"record_id": r, "status": s, "body": b, "at": now} for r, s, b in responses],
    )
