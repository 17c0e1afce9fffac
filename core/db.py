"""Engine and session wiring for PostgreSQL (production) and SQLite (embedded default).

Callers frame transactions with `with database.transaction() as session:`; core
functions receive that session and never commit themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

# SQLSTATEs that mean "try the same transaction again": serialization failure,
# deadlock, the connection-level classes (admin shutdown, lost connection, cannot
# connect) and too many connections.
_TRANSIENT_SQLSTATES = {
    "40001", "40P01", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006",
    "53300",
}  # fmt: skip


class Database:
    """One engine and session factory per process and URL."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = _make_engine(url, pool_size=pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def autocommit(self) -> Iterator[Session]:
        """A session whose statements each commit on their own: one round trip apiece.

        For reads and for writes that are one statement (recording a claim
        request is a single INSERT ... ON CONFLICT DO NOTHING), where BEGIN and
        COMMIT would only add round trips. SQLite gets an ordinary transaction.
        """
        if self.is_sqlite:
            with self.transaction() as session:
                yield session
            return
        with (
            self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
            Session(bind=connection, expire_on_commit=False, autoflush=False) as session,
        ):
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


PREPARE_THRESHOLD = "prepare_threshold"


def psycopg_options(url: str) -> tuple[str | URL, dict[str, Any]]:
    """The URL without `prepare_threshold`, and that option as psycopg's connect argument.

    `?prepare_threshold=none` turns psycopg's server-side prepared statements off, which
    PgBouncer in transaction mode needs before 1.21 (docs/scaling.md); `?prepare_threshold=N`
    prepares a statement at its Nth run on a connection (0: at once). Without the option
    psycopg's default holds (5). Raises ValueError for any other value.
    """
    parsed = make_url(url)
    raw = parsed.query.get(PREPARE_THRESHOLD)
    if raw is None:
        return url, {}
    text = (raw[-1] if isinstance(raw, tuple) else raw).strip().lower()
    if text == "none":
        value = None
    elif text.isascii() and text.isdigit():
        value = int(text)
    else:
        raise ValueError(f"{PREPARE_THRESHOLD} must be none or a whole number, not {raw!r}")
    return parsed.difference_update_query([PREPARE_THRESHOLD]), {"prepare_threshold": value}


@contextmanager
def pipelined(session: Session) -> Iterator[None]:
    """Statements run inside go to PostgreSQL without waiting for each answer (psycopg's
    pipeline mode): one round trip for the lot, synced when the block ends.

    Only for statements whose results nobody reads (writes without RETURNING): an
    error surfaces at the end of the block as SQLAlchemy's DBAPIError subclass for
    it (as from an ordinary execute), still inside the caller's transaction, which
    then rolls back as it would have. On SQLite this does nothing.
    """
    connection = session.connection()
    driver: Any = connection.connection.driver_connection
    pipeline = getattr(driver, "pipeline", None)
    if pipeline is None:
        yield
        return
    try:
        with pipeline():
            yield
    except psycopg.Error as error:
        # Raised by the sync at the block's end, outside any SQLAlchemy call: wrap it as
        # SQLAlchemy would (IntegrityError, OperationalError...), so callers tell a
        # transient failure (is_transient) from a fault exactly as without a pipeline.
        raise DBAPIError.instance(
            "(pipelined statements)",
            None,
            error,
            psycopg.Error,
            connection_invalidated=driver.broken,
            dialect=connection.dialect,
        ) from error


def _make_engine(url: str, *, pool_size: int) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    target, connect_args = psycopg_options(url)
    return create_engine(
        target,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=3600,
        isolation_level="READ COMMITTED",
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take over transaction control from pysqlite so every transaction starts
    # with BEGIN IMMEDIATE: SQLite then serializes writers up front instead of
    # failing one of them with "database is locked" when a read lock upgrades.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_transient(error: BaseException) -> bool:
    """True for database errors that a retry of the whole transaction can cure."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _TRANSIENT_SQLSTATES:
        return True
    # psycopg raises OperationalError without a SQLSTATE when no server answered at all
    # (connection refused, server restarting): the database is away, not the claim at fault.
    if isinstance(error, OperationalError) and error.orig.__class__.__module__.startswith(
        "psycopg"
    ):
        return sqlstate is None
    # SQLite reports lock contention as OperationalError("database is locked").
    return "database is locked" in str(error.orig)


def is_unavailable(error: BaseException) -> bool:
    """True when a request failed because the database is away or saturated right now
    (a transient error, or no pooled connection free in time): the API answers 503
    service_unavailable with Retry-After for these (CONTRACT §3), never 500."""
    return isinstance(error, PoolTimeout) or is_transient(error)


def insert_for(session: Session) -> Any:
    """The dialect's INSERT construct (it has ON CONFLICT, which plain `insert` lacks)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
