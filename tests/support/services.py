"""Real PostgreSQL databases and Redis database numbers, private to one test run."""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import redis

PG_ADMIN_URL = os.environ.get("COFFER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE_URL = os.environ.get("COFFER_TEST_REDIS", "redis://127.0.0.1:6379")


@contextmanager
def fresh_database(label: str = "t") -> Iterator[str]:
    """A new, empty PostgreSQL database, migrated by the caller, dropped afterwards."""
    name = f"coffer_test_{label}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]
    try:
        yield f"postgresql+psycopg://{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def private_redis_db(base_url: str = REDIS_BASE_URL, *, descending: bool = False) -> Iterator[str]:
    """A Redis database number no other test or bench run holds (a lock file per number),
    emptied before and after. The bench counts down from 15 so it rarely meets the tests."""
    numbers = range(15, 0, -1) if descending else range(1, 16)
    for number in numbers:
        handle = open(f"/tmp/coffer-test-redis-db-{number}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        url = f"{base_url}/{number}"
        client = redis.Redis.from_url(url)
        client.flushdb()
        try:
            yield url
        finally:
            with contextlib.suppress(redis.RedisError):
                client.flushdb()
            client.close()
            handle.close()
        return
    raise RuntimeError("all Redis databases 1-15 are held by other test or bench runs")
