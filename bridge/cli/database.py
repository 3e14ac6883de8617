"""`voltbridge db`: the database schema."""

from __future__ import annotations

import click

from bridge.cli.group import group
from gateway_core.config import Settings


@group("db")
def db_group() -> None:
    """Database migrations."""


@db_group.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations."""
    from bridge.migrate import upgrade

    upgrade(Settings.from_env().database_url, revision)
    click.echo(f"database upgraded to {revision}")
