"""Keys and secrets at rest (OWASP API2/API8): API keys hashed, webhook secrets sealed.

The webhook secret is sealed with AES-GCM under derive("webhook-secrets")
(core/webhooks/secret_box.py); migration 0008 seals the rows written before it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.db import Database
from core.instance_secret import derive, hkdf
from core.migrate import alembic_config, upgrade
from core.models import ApiKey, InstanceSecret, WebhookEndpoint
from core.runtime import Runtime
from core.settings import get_settings
from core.tenants import hash_key
from core.webhooks import secret_box
from core.webhooks.endpoints import signing_secrets
from tests.security.conftest import PUBLIC_URL, G
from tests.support.services import fresh_database
from tests.support.tenants import TestTenant, make_tenant


def _endpoint(session: Session, endpoint_id: str) -> WebhookEndpoint:
    query = select(WebhookEndpoint).where(WebhookEndpoint.endpoint_id == endpoint_id)
    return session.scalars(query).one()


def _create(app: Flask, tenant: TestTenant) -> dict[str, str]:
    response = app.test_client().post(
        f"{G}/webhook-endpoints", json={"url": PUBLIC_URL, "event_types": ["*"]},
        headers=tenant.auth(),
    )  # fmt: skip
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def test_api_keys_are_stored_only_as_their_hash(runtime: Runtime) -> None:
    tenant = make_tenant(runtime.db)
    keys = [tenant.key(mode, scope) for mode in ("live", "test") for scope in ("admin", "server")]

    with runtime.db.transaction() as session:
        rows = session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant.id)).all()

    assert sorted(row.key_hash for row in rows) == sorted(hash_key(key) for key in keys)
    for row in rows:
        assert all(key not in (row.key_hash, row.prefix, row.id) for key in keys)
        assert len(row.prefix) == len("ck_live_") + 8  # the displayable start only


def test_a_webhook_secret_is_stored_sealed_and_signs_unsealed(app: Flask, runtime: Runtime) -> None:
    made = _create(app, make_tenant(runtime.db))
    secret = made["secret"]

    with runtime.db.transaction() as session:
        row = _endpoint(session, made["id"])

        assert row.sealed_secret.startswith("v1.") and secret not in row.sealed_secret
        assert secret[len("whsec_") :] not in row.sealed_secret
        assert signing_secrets(row, utcnow()) == [secret]


def test_a_rotated_secret_keeps_signing_beside_the_new_one_both_sealed(
    app: Flask, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime.db)
    made = _create(app, tenant)
    path = f"{G}/webhook-endpoints/{made['id']}/rotate-secret"
    rotated = app.test_client().post(path, headers=tenant.auth()).get_json()

    with runtime.db.transaction() as session:
        row, now = _endpoint(session, made["id"]), utcnow()

        assert made["secret"] not in (row.sealed_secret, row.sealed_previous_secret)
        assert rotated["secret"] not in (row.sealed_secret, row.sealed_previous_secret)
        assert signing_secrets(row, now) == [rotated["secret"], made["secret"]]
        later = now + timedelta(hours=25)
        assert signing_secrets(row, later) == [rotated["secret"]]


def test_a_sealed_secret_moved_to_another_endpoint_does_not_open(
    app: Flask, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime.db)
    first, second = _create(app, tenant), _create(app, tenant)
    with runtime.db.transaction() as session:
        moved = _endpoint(session, first["id"]).sealed_secret

    with runtime.db.transaction() as session, pytest.raises(secret_box.SecretUnreadable):
        secret_box.unseal(session.connection(), moved, endpoint_id=second["id"])


def test_the_key_is_the_instance_secrets_derive_for_webhook_secrets(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        key = secret_box.key(session.connection())

    assert key == derive("webhook-secrets", runtime=runtime)
    assert key != derive("participant-tokens", runtime=runtime)


@pytest.fixture
def operator_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    given = "an operator's own secret, 32 bytes or more"
    monkeypatch.setenv("COFFER_SECRET_KEY", given)
    get_settings.cache_clear()
    yield given
    monkeypatch.delenv("COFFER_SECRET_KEY")
    get_settings.cache_clear()


def test_with_coffer_secret_key_set_a_database_dump_alone_opens_no_secret(
    operator_secret: str,
) -> None:
    with fresh_database("sec") as url:
        upgrade(url)
        db = Database(url, pool_size=1)
        try:
            with db.transaction() as session:
                sealed = secret_box.seal(session.connection(), "whsec_x", endpoint_id="whe_1")
                stored = session.scalar(select(InstanceSecret.secret))
        finally:
            db.dispose()

    assert stored is None  # nothing in the database to derive the key from
    key = hkdf(operator_secret.encode(), "webhook-secrets")
    raw = base64.urlsafe_b64decode(sealed[3:])
    aad = b"coffer:webhook-endpoint:whe_1"
    assert AESGCM(key).decrypt(raw[:12], raw[12:], aad) == b"whsec_x"


PLAIN = {"whe_old_1": ("whsec_" + "A" * 44, None), "whe_old_2": ("whsec_" + "B" * 44, "whsec_C")}


@pytest.fixture(params=["postgresql", "sqlite"])
def database_at_0007(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of either engine (SQLite: the embedded default, CONTRACT §1)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'coffer.db'}"
        return
    with fresh_database("m8") as url:
        yield url


def _write_0007_rows(url: str) -> None:
    """Endpoints as the 0007-era code stored them: secrets in plaintext."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO tenants (id, name, created_at) VALUES ('ten_m8', 'm8', CURRENT_TIMESTAMP)"
        ))  # fmt: skip
        for endpoint_id, (secret, previous) in PLAIN.items():
            connection.execute(
                text(
                    "INSERT INTO webhook_endpoints (endpoint_id, tenant_id, mode, url, "
                    "event_types, enabled, secret, previous_secret, created_at) VALUES "
                    "(:e, 'ten_m8', 'live', 'https://93.184.215.14/h', '[\"*\"]', true, "
                    ":s, :p, CURRENT_TIMESTAMP)"
                ),
                {"e": endpoint_id, "s": secret, "p": previous},
            )
    engine.dispose()


def _read(url: str, columns: str) -> dict[str, tuple[str, ...]]:
    engine = create_engine(url)
    with engine.begin() as connection:
        query = f"SELECT endpoint_id, {columns} FROM webhook_endpoints"  # noqa: S608 - constants
        rows = connection.execute(text(query))
        found = {row[0]: tuple(row[1:]) for row in rows}
    engine.dispose()
    return found


def _unsealed(url: str, sealed: dict[str, tuple[str, ...]]) -> dict[str, tuple[str | None, ...]]:
    engine = create_engine(url)
    with engine.begin() as connection:
        opened = {
            e: tuple(v and secret_box.unseal(connection, v, endpoint_id=e) for v in values)
            for e, values in sealed.items()
        }
    engine.dispose()
    return opened


def test_migration_0008_seals_existing_secrets_and_its_downgrade_opens_them(
    database_at_0007: str,
) -> None:
    url, config = database_at_0007, alembic_config(database_at_0007)
    command.upgrade(config, "0007")
    _write_0007_rows(url)

    command.upgrade(config, "0008")
    sealed = _read(url, "sealed_secret, sealed_previous_secret")
    opened = _unsealed(url, sealed)
    command.downgrade(config, "0007")
    back = _read(url, "secret, previous_secret")

    assert all(values[0].startswith("v1.") for values in sealed.values())
    assert all(plain not in str(sealed) for pair in PLAIN.values() for plain in pair if plain)
    assert opened == PLAIN
    assert back == PLAIN


def _sealed_under_another_key(endpoint_id: str) -> str:
    nonce, key = b"\0" * 12, AESGCM.generate_key(bit_length=256)
    sealed = AESGCM(key).encrypt(
        nonce, b"whsec_old", f"coffer:webhook-endpoint:{endpoint_id}".encode()
    )
    return "v1." + base64.urlsafe_b64encode(nonce + sealed).decode()


def test_after_the_key_changes_rotating_the_secret_recovers_the_endpoint(
    app: Flask, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime.db)
    made = _create(app, tenant)
    with runtime.db.transaction() as session:  # as if COFFER_SECRET_KEY had been changed
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.endpoint_id == made["id"])
            .values(sealed_secret=_sealed_under_another_key(made["id"]))
        )
    with runtime.db.transaction() as session, pytest.raises(secret_box.SecretUnreadable):
        signing_secrets(_endpoint(session, made["id"]), utcnow())

    path = f"{G}/webhook-endpoints/{made['id']}/rotate-secret"
    rotated = app.test_client().post(path, headers=tenant.auth()).get_json()

    with runtime.db.transaction() as session:
        assert signing_secrets(_endpoint(session, made["id"]), utcnow()) == [rotated["secret"]]
