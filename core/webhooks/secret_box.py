"""Webhook endpoint secrets encrypted at rest: AES-256-GCM under derive("webhook-secrets").

A receiver checks deliveries with the endpoint's secret, so Coffer must be able
to read it back to sign: it cannot be hashed like an API key. It is sealed
instead, with a key derived from the instance secret (core/instance_secret.py):
COFFER_SECRET_KEY when the process settings hold one, else the random secret
kept in this database's `instance_secrets` table. With COFFER_SECRET_KEY set, a
dump of the database alone reveals no webhook secret (docs/security.md).

A sealed value is `v1.` + base64url(12-byte nonce || ciphertext || 16-byte tag).
The endpoint's id is the associated data, so a sealed secret copied onto
another endpoint's row does not open there. The key is cached per pooled
database connection (`Connection.info`), so signing a delivery costs no extra query
once a connection has read it, and no cache outlives its database.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from core.instance_secret import hkdf
from core.models import InstanceSecret
from core.settings import get_settings

PURPOSE = "webhook-secrets"
VERSION = "v1."
_NONCE_BYTES = 12
_CACHE = "coffer.webhook-secrets-key"
_INSTANCE_SECRET = "default"  # noqa: S105 - the name of the row core/instance_secret.py keeps


class SecretUnreadable(Exception):
    """A sealed secret that this installation's key does not open (another key, or altered)."""


def seal(connection: Connection, secret: str, *, endpoint_id: str) -> str:
    """`secret` encrypted for storage on the endpoint `endpoint_id`."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(key(connection)).encrypt(nonce, secret.encode(), _aad(endpoint_id))
    return VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(connection: Connection, sealed: str, *, endpoint_id: str) -> str:
    """The secret a `seal` of this endpoint stored; SecretUnreadable if it does not open."""
    if not sealed.startswith(VERSION):
        raise SecretUnreadable(f"endpoint {endpoint_id}: not a sealed secret")
    raw = base64.urlsafe_b64decode(sealed[len(VERSION) :])
    try:
        opened = AESGCM(key(connection)).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(endpoint_id)
        )
    except Exception as error:  # cryptography's InvalidTag: wrong key or altered text
        raise SecretUnreadable(f"endpoint {endpoint_id}: the key does not open it") from error
    return opened.decode()


def key(connection: Connection) -> bytes:
    """derive("webhook-secrets") for the installation whose database `connection` reaches."""
    cached: bytes | None = connection.info.get(_CACHE)
    if cached is None:
        secret, created = _instance_secret(connection)
        cached = hkdf(secret, PURPOSE)
        if not created:  # a secret made in this transaction may yet be rolled back
            connection.info[_CACHE] = cached
    return cached


def _aad(endpoint_id: str) -> bytes:
    return f"coffer:webhook-endpoint:{endpoint_id}".encode()


def _instance_secret(connection: Connection) -> tuple[bytes, bool]:
    """COFFER_SECRET_KEY's bytes, else the stored secret (core/instance_secret.py's rule),
    read (or created, race-safely, as there) through the caller's own connection; and
    whether this call created it."""
    given = get_settings().secret_key
    if given is not None:
        return given.get_secret_value().encode(), False
    query = select(InstanceSecret.secret).where(InstanceSecret.name == _INSTANCE_SECRET)
    stored = connection.scalar(query)
    created = stored is None
    if created:
        dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
        candidate = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        connection.execute(
            dialect.insert(InstanceSecret)
            .values(name=_INSTANCE_SECRET, secret=candidate)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        stored = connection.scalar(query)
    assert stored is not None  # inserted, or the row that won the race
    return base64.urlsafe_b64decode(stored), created
