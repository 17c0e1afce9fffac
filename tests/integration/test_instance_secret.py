"""The instance secret on real PostgreSQL, and the revocation cache of participant tokens."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator

import pytest
import redis as redis_lib
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import func, select

from core.db import Database
from core.instance_secret import SecretHolder, hkdf, load_secret
from core.migrate import upgrade
from core.models import InstanceSecret
from core.runtime import Runtime
from core.settings import Settings
from core.tenants import revoke_key
from core.tokens_revocation import (
    LIVE_TTL_S,
    KeyLiveness,
    KeyRevoked,
    announce_revoked,
    key_ids_with_prefix,
)
from tests.support.services import fresh_database
from tests.support.tenants import make_tenant

UNSET = Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def empty_db() -> Iterator[Database]:
    """A migrated database no process has asked for a secret yet."""
    with fresh_database("secret") as url:
        upgrade(url)
        db = Database(url, pool_size=2)
        yield db
        db.dispose()


def stored_rows(db: Database) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(InstanceSecret)) or 0


def test_processes_starting_at_once_agree_on_one_stored_secret(empty_db: Database) -> None:
    """Eight "processes" (each its own engine, as after a fork) race to create the secret."""
    racers = 8
    start = threading.Barrier(racers)
    found: list[bytes] = []
    engines = [Database(empty_db.url, pool_size=1) for _ in range(racers)]

    def run(db: Database) -> None:
        start.wait()
        found.append(load_secret(settings=UNSET, db=db))

    threads = [threading.Thread(target=run, args=(db,)) for db in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for db in engines:
        db.dispose()

    assert len(found) == racers
    assert len(set(found)) == 1 and len(found[0]) == 32
    assert stored_rows(empty_db) == 1


def test_a_set_secret_key_is_used_and_nothing_is_stored(empty_db: Database) -> None:
    given = Settings(secret_key="an operator's secret of 32+ bytes!", _env_file=None)  # type: ignore[arg-type, call-arg]
    holder = SecretHolder()

    derived = holder.derive("participant-tokens", settings=given, db=empty_db)

    assert derived == hkdf(b"an operator's secret of 32+ bytes!", "participant-tokens")
    assert stored_rows(empty_db) == 0


def test_the_secret_is_loaded_once_per_process(empty_db: Database) -> None:
    holder = SecretHolder()
    first = holder.derive("participant-tokens", settings=UNSET, db=empty_db)
    with empty_db.transaction() as session:  # were it read again, the keys would change
        row = session.get_one(InstanceSecret, "default")
        row.secret = base64.urlsafe_b64encode(b"A" * 32).decode()

    assert holder.derive("participant-tokens", settings=UNSET, db=empty_db) == first
    assert holder.derive("webhook-secrets", settings=UNSET, db=empty_db) != first
    assert SecretHolder().derive("participant-tokens", settings=UNSET, db=empty_db) != first


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_without_redis_a_revoked_key_is_noticed_within_the_cache_bound(runtime: Runtime) -> None:
    tenant = make_tenant(runtime.db)
    prefix = tenant.key("live", "server")[:16]
    (key_id,) = key_ids_with_prefix(runtime.db, prefix)
    clock = Clock()
    liveness = KeyLiveness(clock=clock)
    liveness.require_live(key_id, db=runtime.db, redis=None)

    with runtime.db.transaction() as session:
        revoke_key(session, prefix=prefix, redis=None)
    clock.now += LIVE_TTL_S - 0.5
    liveness.require_live(key_id, db=runtime.db, redis=None)  # cached: no database read
    clock.now += 0.5

    with pytest.raises(KeyRevoked):
        liveness.require_live(key_id, db=runtime.db, redis=None)


def test_with_redis_a_revocation_is_noticed_on_the_next_request(runtime: Runtime) -> None:
    assert runtime.redis is not None
    tenant = make_tenant(runtime.db)
    prefix = tenant.key("test", "server")[:16]
    (key_id,) = key_ids_with_prefix(runtime.db, prefix)
    liveness = KeyLiveness(clock=Clock())  # the clock never moves: the cache alone never expires
    liveness.require_live(key_id, db=runtime.db, redis=runtime.redis)

    with runtime.db.transaction() as session:
        revocation = revoke_key(session, prefix=prefix, redis=runtime.redis)
        assert not revocation.announced  # not before the commit
    assert revocation.announced and revocation.key_ids == [key_id]

    with pytest.raises(KeyRevoked):
        liveness.require_live(key_id, db=runtime.db, redis=runtime.redis)


def test_an_unknown_key_id_is_revoked_and_redis_down_falls_back_on_the_database(
    runtime: Runtime,
) -> None:
    down = redis_lib.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    tenant = make_tenant(runtime.db)
    (key_id,) = key_ids_with_prefix(runtime.db, tenant.key("live", "admin")[:16])
    liveness = KeyLiveness()

    liveness.require_live(key_id, db=runtime.db, redis=down)  # live, read from the database
    assert not announce_revoked(down, [key_id])
    with pytest.raises(KeyRevoked):
        liveness.require_live("key_unknown", db=runtime.db, redis=None)
