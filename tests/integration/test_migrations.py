"""Models and migrations must describe the same schema, on every backend."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway_core.adapters.db import normalise_url
from gateway_core.adapters.models import Base


def test_models_and_migrations_do_not_differ(database_url: str) -> None:
    engine = sa.create_engine(normalise_url(database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_migrations_reach_head(database_url: str) -> None:
    engine = sa.create_engine(normalise_url(database_url))
    try:
        with engine.connect() as connection:
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()
    from alembic.script import ScriptDirectory

    from bridge.migrate import MIGRATIONS, alembic_config

    assert MIGRATIONS.exists()
    assert version == ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
