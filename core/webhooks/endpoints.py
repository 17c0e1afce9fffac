"""The admin's webhook endpoints: create, read, list, update, rotate the secret.

An endpoint belongs to one tenant and one mode; another tenant's or mode's
endpoint is `not_found`. The secret is returned only by `create_endpoint`
and `rotate_secret`, and stored only sealed (core/webhooks/secret_box.py):
`signing_secrets` is the one reader. Its URL passes the SSRF rule (core.webhooks.ssrf) when
it is registered or changed, and again before each attempt. Deleting one ends its pending
deliveries and is core/webhooks/removal.py.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from core.clock import utcnow
from core.errors import ValidationFailed, WebhookEndpointNotFound
from core.ids import new_id
from core.models import WebhookEndpoint
from core.schemas import WebhookEndpointPage, WebhookEndpointView
from core.tenants import Principal
from core.webhooks import paging, secret_box
from core.webhooks.inputs import EndpointCreate, EndpointPatch
from core.webhooks.signing import new_secret
from core.webhooks.ssrf import UnsafeUrl, resolve

log = logging.getLogger("coffer.webhooks")
ROTATION_OVERLAP = timedelta(hours=24)  # the previous secret keeps signing this long


def check_url(url: str, *, allow_private: bool) -> None:
    """400 naming `url` unless it may be called (with private addresses allowed, shape only)."""
    if allow_private:
        return
    try:
        resolve(url, allow_private=False)
    except UnsafeUrl as refusal:
        raise ValidationFailed([{"field": "url", "message": str(refusal)}]) from refusal


def create_endpoint(
    session: Session, *, principal: Principal, body: EndpointCreate, allow_private: bool
) -> dict[str, Any]:
    """A new enabled endpoint: its object plus `secret`, shown this once.

    A dict (WebhookEndpointWithSecret's members), as test helpers read the secret from it.
    """
    check_url(body.url, allow_private=allow_private)
    endpoint_id, secret = new_id("whe"), new_secret()
    endpoint = WebhookEndpoint(
        endpoint_id=endpoint_id,
        tenant_id=principal.tenant_id,
        mode=principal.mode,
        url=body.url,
        event_types=list(body.event_types),
        description=body.description,
        enabled=True,
        sealed_secret=_seal(session, secret, endpoint_id),
        created_at=utcnow(),
    )
    session.add(endpoint)
    session.flush()
    return {**shape(endpoint).wire(), "secret": secret}


def get_endpoint(
    session: Session, *, principal: Principal, endpoint_id: str
) -> WebhookEndpointView:
    return shape(load(session, principal=principal, endpoint_id=endpoint_id))


def list_endpoints(
    session: Session, *, principal: Principal, limit: int, cursor: str | None
) -> WebhookEndpointPage:
    """Endpoints oldest first, `limit` at a time."""
    query = (
        select(WebhookEndpoint)
        .where(*_visible(principal))
        .order_by(WebhookEndpoint.id)
        .limit(limit + 1)
    )
    if cursor is not None:
        query = query.where(WebhookEndpoint.id > paging.decode("whe", cursor))
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return WebhookEndpointPage(
        webhook_endpoints=[shape(row) for row in rows],
        next_cursor=paging.encode("whe", rows[-1].id) if more else None,
    )


def update_endpoint(
    session: Session,
    *,
    principal: Principal,
    endpoint_id: str,
    body: EndpointPatch,
    allow_private: bool,
) -> WebhookEndpointView:
    """Apply the fields given; re-enabling clears the reason and the failure streak."""
    given = body.model_fields_set
    for name in given & {"url", "event_types", "enabled"}:
        if getattr(body, name) is None:
            raise ValidationFailed([{"field": name, "message": "must not be null"}])
    endpoint = load(session, principal=principal, endpoint_id=endpoint_id, lock=True)
    if body.url is not None:
        check_url(body.url, allow_private=allow_private)
        endpoint.url = body.url
    if body.event_types is not None:
        endpoint.event_types = list(body.event_types)
    if "description" in given:
        endpoint.description = body.description
    if body.enabled is not None and body.enabled != endpoint.enabled:
        endpoint.enabled = body.enabled
        endpoint.disabled_reason = None if body.enabled else "disabled by an admin"
        endpoint.failing_since = None
    return shape(endpoint)


def rotate_secret(session: Session, *, principal: Principal, endpoint_id: str) -> dict[str, Any]:
    """A new secret; the current one keeps signing beside it for ROTATION_OVERLAP.

    A dict like create_endpoint's.
    """
    endpoint = load(session, principal=principal, endpoint_id=endpoint_id, lock=True)
    secret = new_secret()
    # Still sealed for this endpoint: the previous secret moves over as it is.
    endpoint.sealed_previous_secret = endpoint.sealed_secret
    endpoint.previous_secret_expires_at = utcnow() + ROTATION_OVERLAP
    endpoint.sealed_secret = _seal(session, secret, endpoint_id)
    return {**shape(endpoint).wire(), "secret": secret}


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign right now, unsealed: the current one, and the previous one while
    it overlaps. The only place a stored secret is read, through the session that loaded
    `endpoint` (its database holds the instance secret when COFFER_SECRET_KEY is unset).

    Raises secret_box.SecretUnreadable when the installation's key does not open the current
    secret (COFFER_SECRET_KEY set or changed after it was stored): rotating the secret
    recovers, as a previous secret that no longer opens is left out, not an error.
    """
    session = object_session(endpoint)
    assert session is not None, "signing needs an endpoint loaded in a session"
    connection, endpoint_id = session.connection(), endpoint.endpoint_id
    current = secret_box.unseal(connection, endpoint.sealed_secret, endpoint_id=endpoint_id)
    expires, previous = endpoint.previous_secret_expires_at, endpoint.sealed_previous_secret
    if not previous or expires is None or now >= expires:
        return [current]
    try:
        return [current, secret_box.unseal(connection, previous, endpoint_id=endpoint_id)]
    except secret_box.SecretUnreadable:
        log.warning("previous webhook secret unreadable; signing with the current one only",
                    extra={"endpoint_id": endpoint_id})  # fmt: skip
        return [current]


def _seal(session: Session, secret: str, endpoint_id: str) -> str:
    return secret_box.seal(session.connection(), secret, endpoint_id=endpoint_id)


def load(
    session: Session,
    *,
    principal: Principal,
    endpoint_id: str,
    lock: bool = False,
    key_share: bool = False,
    deleted_too: bool = False,
) -> WebhookEndpoint:
    """The tenant+mode's endpoint, or WebhookEndpointNotFound (also when deleted, unless
    `deleted_too`). `lock` takes the row FOR UPDATE (to change it), `key_share` FOR NO KEY UPDATE
    (to rely on it not being deleted until commit: a delete under way is waited for and seen;
    SQLAlchemy's `key_share=True` renders FOR NO KEY UPDATE; FOR KEY SHARE would need
    `read=True` too, and would let relays stop queueing on each other: not yet measured).
    """
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.endpoint_id == endpoint_id, *_visible(principal, deleted_too=deleted_too)
    )
    if lock or key_share:
        query = query.with_for_update(key_share=not lock)
    endpoint = session.scalar(query)
    if endpoint is None:
        raise WebhookEndpointNotFound(f"No webhook endpoint {endpoint_id}")
    return endpoint


def shape(endpoint: WebhookEndpoint) -> WebhookEndpointView:
    """The endpoint as the API shows it (never the secret)."""
    return WebhookEndpointView(
        id=endpoint.endpoint_id,
        url=endpoint.url,
        event_types=endpoint.event_types,  # type: ignore[arg-type]  # stored as validated
        description=endpoint.description,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        created_at=endpoint.created_at,
    )


def _visible(principal: Principal, *, deleted_too: bool = False) -> list[Any]:
    ours = [
        WebhookEndpoint.tenant_id == principal.tenant_id,
        WebhookEndpoint.mode == principal.mode,
    ]
    return ours if deleted_too else [*ours, WebhookEndpoint.deleted_at.is_(None)]
