"""Alembic environment: the URL comes from the caller's config (bridge/migrate.py) or DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from gateway_core.adapters.db import create_private_database, normalise_url
from gateway_core.adapters.models import Base
from gateway_core.config import Settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or normalise_url(Settings.from_env().database_url)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    from sqlalchemy import create_engine

    url = _url()
    create_private_database(url)
    connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
    engine = create_engine(url, poolclass=pool.NullPool, connect_args=connect_args)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
