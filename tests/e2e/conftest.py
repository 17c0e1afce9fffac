"""The production column of CONTRACT §1 as real processes: gunicorn, Celery worker, beat."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.db import Database
from core.migrate import upgrade
from tests.support.client import Api
from tests.support.services import fresh_database, private_redis_db
from tests.support.stack import Stack
from tests.support.tenants import TestTenant, make_tenant


@pytest.fixture(scope="session")
def stack_db() -> Iterator[Database]:
    """The stack's own database: its worker drains every pending claim it holds, so no
    other test's claims may live there."""
    with fresh_database("e2e") as url:
        upgrade(url)
        db = Database(url, pool_size=8)
        yield db
        db.dispose()


@pytest.fixture(scope="session")
def stack(stack_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with private_redis_db() as redis_url:
        running = Stack(
            database_url=stack_db.url,
            redis_url=redis_url,
            logs=tmp_path_factory.mktemp("stack-logs"),
            sweep_interval_s="2",
        )
        try:
            running.start_api()
            running.start_worker()
            running.start_beat()
            yield running
        finally:
            running.stop()


@pytest.fixture
def tenant(stack_db: Database) -> TestTenant:
    """A tenant in the stack's database (overrides the session-database tenant)."""
    return make_tenant(stack_db)


@pytest.fixture
def api(stack: Stack, tenant: TestTenant) -> Api:
    """The tenant's live admin key against the running stack."""
    return Api(stack.base_url, tenant.key("live", "admin"), tenant.id)


@pytest.fixture
def server_api(stack: Stack, tenant: TestTenant) -> Api:
    return Api(stack.base_url, tenant.key("live", "server"))


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[Callable[..., tuple[Stack, Database]]]:
    """A stack with its own database and Redis database, for tests that kill its parts."""
    opened: list[tuple[Stack, Database]] = []
    contexts = []

    def make(**settings: str) -> tuple[Stack, Database]:
        db_context, redis_context = fresh_database("fault"), private_redis_db()
        contexts.extend([db_context, redis_context])
        url = db_context.__enter__()
        upgrade(url)
        built = Stack(
            database_url=url, redis_url=redis_context.__enter__(), logs=tmp_path, **settings
        )
        opened.append((built, Database(url, pool_size=4)))
        return opened[-1]

    yield make
    for built, db in opened:
        built.stop()
        db.dispose()
    for context in reversed(contexts):
        context.__exit__(None, None, None)


def tenant_on(db: Database) -> TestTenant:
    return make_tenant(db)
