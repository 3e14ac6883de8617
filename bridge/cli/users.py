"""`voltbridge user`: dashboard accounts."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from bridge.cli.group import group
from bridge.extensions import services
from gateway_core.accounts.users import create_user, list_users


@group("user")
def user_group() -> None:
    """Dashboard accounts (the first one is the server admin)."""


@user_group.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="make the account a server admin (the first account always is)")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="VOLTBRIDGE_USER_PASSWORD", help="asked for when not given (or VOLTBRIDGE_USER_PASSWORD)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (for scripts)")
@with_appcontext
def user_create(email: str, admin: bool, password: str, as_json: bool) -> None:
    """Create a dashboard account for EMAIL (the operator may, whether or not sign-up is open)."""
    svc = services()
    with svc.uow() as uow:
        account = create_user(uow, email, password, admin=admin)
    if as_json:
        click.echo(json.dumps({"id": account.id, "email": account.email, "admin": account.is_admin}))
        return
    click.echo(f"User {account.id} {account.email}{' (admin)' if account.is_admin else ''}")


@user_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object per line (for scripts)")
@with_appcontext
def user_list(as_json: bool) -> None:
    """List dashboard accounts."""
    svc = services()
    with svc.uow(read_only=True) as uow:
        accounts = list_users(uow)
    for account in accounts:
        if as_json:
            click.echo(json.dumps({"id": account.id, "email": account.email, "admin": account.is_admin}))
        else:
            click.echo(f"{account.id}\t{account.email}\t{'admin' if account.is_admin else '-'}")
