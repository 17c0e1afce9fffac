"""Alembic environment: runs migrations against the URL `core.migrate` configured."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from core.db import psycopg_options
from core.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    target, connect_args = (url, {}) if url.startswith("sqlite") else psycopg_options(url)
    engine = create_engine(target, poolclass=pool.NullPool, connect_args=connect_args)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
