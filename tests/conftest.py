"""Fixtures on real services: a migrated PostgreSQL database and a private Redis database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.migrate import upgrade
from core.runtime import Runtime, build_runtime
from core.settings import Settings
from tests.support.services import fresh_database, private_redis_db
from tests.support.tenants import TestTenant, make_tenant


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with fresh_database("session") as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with private_redis_db() as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        broker_url=redis_url,
        rate_limit="100000/second",
        log_level="WARNING",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
def runtime(settings: Settings) -> Iterator[Runtime]:
    built = build_runtime(settings)
    yield built
    built.close()


@pytest.fixture(scope="session")
def app(runtime: Runtime) -> Flask:
    return __import__("api").create_app(runtime)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def tenant(runtime: Runtime) -> TestTenant:
    return make_tenant(runtime.db)


@pytest.fixture
def other_tenant(runtime: Runtime) -> TestTenant:
    return make_tenant(runtime.db)
