"""Alembic migrations, run by `coffer db upgrade`, and the check every entry point makes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# alembic announces each plugin it sets up, at import, at INFO: noise in every log.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import Engine  # noqa: E402

MIGRATIONS = Path(__file__).parent / "migrations"


class NotMigrated(RuntimeError):
    """The database schema is not at the version this code needs."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Bring the database to the latest schema."""
    command.upgrade(alembic_config(url), "head")


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection, _quiet_alembic():
        return MigrationContext.configure(connection).get_current_revision()


def require_migrated(engine: Engine) -> None:
    """Refuse to run on a database that `coffer db upgrade` has not brought up to date."""
    url = engine.url.render_as_string(hide_password=False)
    current, head = current_revision(engine), head_revision(url)
    if current != head:
        shown = engine.url.render_as_string(hide_password=True)
        raise NotMigrated(
            f"The database at {shown} is at schema revision {current or 'none'}, "
            f"but this Coffer needs {head}. Run `coffer db upgrade` first."
        )


class DatabaseUnreachable(RuntimeError):
    """The database did not answer: down, wrong address or refused credentials."""


def check_database(url: str, *, connect_timeout_s: int = 5) -> None:
    """Raise DatabaseUnreachable or NotMigrated, each with a one-line message, unless the
    database at `url` answers and is at the latest schema (CONTRACT §1: entry points refuse
    to start otherwise). Uses its own short-lived connection with a bounded connect wait.
    """
    from sqlalchemy import create_engine  # noqa: PLC0415
    from sqlalchemy.exc import DBAPIError  # noqa: PLC0415
    from sqlalchemy.pool import NullPool  # noqa: PLC0415

    from core.db import psycopg_options  # noqa: PLC0415

    target: Any = url
    connect_args: dict[str, Any] = {}
    if not url.startswith("sqlite"):
        target, connect_args = psycopg_options(url)
        connect_args["connect_timeout"] = connect_timeout_s
    engine = create_engine(target, poolclass=NullPool, connect_args=connect_args)
    try:
        require_migrated(engine)
    except DBAPIError as error:
        raise DatabaseUnreachable(unreachable_message(url, error)) from None
    finally:
        engine.dispose()


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """A start-up check is not a migration: alembic's INFO lines would only be noise."""
    logger = logging.getLogger("alembic")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def unreachable_message(url: str, error: BaseException) -> str:
    """`cannot reach the database at URL (password hidden): first line of the driver's reason`."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    reason = lines[0] if lines else type(cause).__name__
    shown = make_url(url).render_as_string(hide_password=True)
    return f"cannot reach the database at {shown}: {reason}"


def require_database_or_exit(url: str) -> None:
    """For entry points: stop with one line (core.settings.refuse_to_start) unless
    the database answers and is migrated."""
    from core.settings import refuse_to_start  # noqa: PLC0415

    try:
        check_database(url)
    except (DatabaseUnreachable, NotMigrated) as error:
        refuse_to_start(str(error))
