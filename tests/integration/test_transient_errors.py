"""Which database errors a drain retries instead of counting against a claim (core.db).

A database that cannot be reached right now (refused, restarting, out of
connections) is the database's trouble, not the claim's: it must never move a
claim toward `processing_failed`.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core.db import Database, is_transient
from core.runtime import Runtime
from tests.support.services import PG_ADMIN_URL
from tests.support.stack import free_port


def error_of(url: str, sql: str = "SELECT 1") -> DBAPIError:
    db = Database(url)
    try:
        with pytest.raises(DBAPIError) as raised, db.transaction() as session:
            session.execute(text(sql))
        return raised.value
    finally:
        db.dispose()


def test_a_server_that_refuses_connections_is_transient() -> None:
    assert is_transient(error_of(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x"))


def test_too_many_connections_is_transient(runtime: Runtime) -> None:
    role = "coffer_one_connection"
    admin = Database(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with admin.autocommit() as session:
            session.execute(text(f"DROP ROLE IF EXISTS {role}"))
            session.execute(text(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0"))
        url = runtime.db.url.replace("postgres@", f"{role}@", 1)
        error = error_of(url)
        assert "too many connections" in str(error.orig)
        assert is_transient(error)
    finally:
        with admin.autocommit() as session:
            session.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def test_a_bug_in_a_statement_is_not_transient(runtime: Runtime) -> None:
    assert not is_transient(error_of(runtime.db.url, "SELECT no_such_column FROM claims"))
    assert not is_transient(error_of(runtime.db.url, "SELECT 1/0"))
