"""`voltbridge simulate`: the sandbox network."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from bridge.cli.group import decimal, group
from bridge.extensions import services
from gateway_core.payments.sandbox import simulate_payment


@group("simulate")
def simulate_group() -> None:
    """Sandbox network tools."""


@simulate_group.command("pay")
@click.argument("invoice_number")
@click.option("--asset", type=click.Choice(["SOL", "USDC", "USDT"], case_sensitive=False), default=None)
@click.option("--amount", default=None, help="in the asset's units; defaults to the amount still due")
@with_appcontext
def simulate_pay(invoice_number: str, asset: str | None, amount: str | None) -> None:
    """Pay a sandbox invoice (the worker picks the transfer up on its next tick)."""
    svc = services()
    value = decimal(None, None, amount) if amount is not None else None
    with svc.uow() as uow:
        transfer = simulate_payment(uow, invoice_number, svc.clock, asset, value)
    from gateway_core.domain.money import asset as asset_of
    from gateway_core.domain.money import from_base_units, plain

    units = plain(from_base_units(transfer.amount, asset_of(transfer.asset)))
    click.echo(f"sent {units} {transfer.asset} to {transfer.to_address} (tx {transfer.tx_id})")
