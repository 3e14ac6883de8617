"""The `voltbridge` command (console script, and `python -m bridge`): every command the gateway has."""

from __future__ import annotations

import os
from typing import Any

import click
from flask.cli import ScriptInfo

from bridge import app_from_env
from bridge.cli import database, invoices, keys, processes, reconcile, sandbox, storefronts, stores, users
from bridge.cli.group import CommandGroup


class Voltbridge(CommandGroup):
    """The top-level group: commands that need the app build it from the environment (tests bring their own)."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        extra.setdefault("obj", ScriptInfo(create_app=app_from_env))
        return super().make_context(info_name, args, parent, **extra)


@click.group(cls=Voltbridge)
def main() -> None:
    """voltbridge: a self-hosted crypto payment gateway."""
    # Every file a voltbridge process creates is its user's alone: the SQLite database (and the -wal and -shm
    # files SQLite creates beside it) holds webhook secrets and customers' emails. gunicorn's workers inherit it.
    os.umask(0o077)


for _command in (processes.run_command, processes.web_command, processes.worker_command, processes.parked_command,
                 database.db_group, stores.store_group, keys.key_group, sandbox.simulate_group,
                 reconcile.reconcile_command, users.user_group, invoices.invoice_group, *storefronts.GROUPS):
    main.add_command(_command)
