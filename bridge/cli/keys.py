"""`voltbridge key`: API keys, one set per contract."""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import with_appcontext

from bridge.cli.group import group
from bridge.extensions import services
from gateway_core.keys.api_keys import rotate_key
from gateway_core.stores.manage import find_store


@group("key")
def key_group() -> None:
    """API keys, one set per contract (--kind)."""


KINDS = click.Choice(["voltxt", "virtexgate", "veltpay", "venta"])


def _print_key(issued: Any, as_json: bool, heading: str) -> None:
    if as_json:
        shown = {"store_id": issued.store_id, "kind": issued.kind, "api_key": issued.api_key}
        if issued.key_id is not None:  # VeltPay: the key id travels, the secret signs
            shown.update(key_id=issued.key_id, secret=issued.api_key)
        click.echo(json.dumps(shown))
        return
    click.echo(heading)
    if issued.key_id is not None:
        click.echo(f"  key_id: {issued.key_id}")
        click.echo(f"  secret (shown once): {issued.api_key}")
    else:
        click.echo(f"  API key (shown once): {issued.api_key}")


@key_group.command("create")
@click.argument("store")
@click.option("--kind", type=KINDS, default="voltxt", show_default=True, help="the contract the key is for")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (for scripts)")
@with_appcontext
def key_create(store: str, kind: str, as_json: bool) -> None:
    """Issue a key for STORE (id or name) in the KIND contract's format; existing keys keep working."""
    from gateway_core.keys.api_keys import issue_key

    svc = services()
    with svc.uow() as uow:
        issued = issue_key(uow, svc.vault, find_store(uow, store).id, kind)
    _print_key(issued, as_json, f"New {kind} key for store {issued.store_id}:")


@key_group.command("rotate")
@click.argument("store")
@click.option("--kind", type=KINDS, default="voltxt", show_default=True)
@click.option("--grace-hours", type=int, default=None, help="how long old keys keep working (default 24)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (for scripts)")
@with_appcontext
def key_rotate(store: str, kind: str, grace_hours: int | None, as_json: bool) -> None:
    """Issue a new key for STORE (id or name); old keys keep working for the grace period."""
    from datetime import timedelta

    svc = services()
    grace = timedelta(hours=grace_hours) if grace_hours is not None else svc.key_grace
    with svc.uow() as uow:
        issued = rotate_key(uow, svc.vault, find_store(uow, store).id, svc.clock, grace, kind)
    if as_json:
        _print_key(issued, True, "")
        return
    if kind == "voltxt":
        click.echo(f"New API key for store {issued.store_id} (shown once): {issued.api_key}")
    else:
        _print_key(issued, False, f"New {kind} key for store {issued.store_id}:")
    click.echo(f"Previous keys keep working for {grace.total_seconds() / 3600:g} hours.")


@key_group.command("limit")
@click.argument("store")
@click.option("--kind", type=KINDS, default="venta", show_default=True)
@click.option("--per-minute", type=click.IntRange(1), default=None, help="requests per minute for each live key")
@click.option("--default", "use_default", is_flag=True,
              help="back to the contract's default (120; voltxt: VOLTXT_RATE_LIMIT_PER_MINUTE, 600)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (for scripts)")
@with_appcontext
def key_limit(store: str, kind: str, per_minute: int | None, use_default: bool, as_json: bool) -> None:
    """Show or set the request budget of STORE's live KIND keys (a key issued later starts at the default)."""
    from gateway_core.keys.key_limits import DEFAULT_PER_MINUTE, rate_limits, set_rate_limit

    if per_minute is not None and use_default:
        raise click.UsageError("--per-minute and --default exclude each other")
    svc = services()
    with svc.uow() as uow:
        store_id = find_store(uow, store).id
        if per_minute is not None or use_default:
            set_rate_limit(uow, store_id, kind, per_minute, svc.clock)
        default = svc.settings.voltxt_rate_limit_per_minute if kind == "voltxt" else DEFAULT_PER_MINUTE
        limits = rate_limits(uow, store_id, kind, svc.clock, default)
    keys = [{"created_at": k.created_at.isoformat(), "expires_at": k.expires_at.isoformat() if k.expires_at else None,
             "per_minute": k.per_minute, "default": k.default} for k in limits]
    if as_json:
        click.echo(json.dumps({"store_id": store_id, "kind": kind, "keys": keys}))
        return
    if not keys:
        click.echo(f"Store {store_id} has no live {kind} keys (`voltbridge key create {store_id} --kind {kind}`).")
    for key in keys:
        note = " (default)" if key["default"] else ""
        until = f", expires {key['expires_at']}" if key["expires_at"] else ""
        click.echo(f"{kind} key created {key['created_at']}{until}: {key['per_minute']} requests/minute{note}")
