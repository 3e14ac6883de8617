"""Alembic, driven from code: `voltbridge db upgrade`, `voltbridge run`, the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from gateway_core.adapters.db import normalise_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), revision)
