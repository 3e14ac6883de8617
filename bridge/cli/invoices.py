"""`voltbridge invoice`: a store's invoices for scripts: list, show, cancel, export (the dashboard's filters)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from flask.cli import with_appcontext

from bridge.cli.group import group
from bridge.extensions import services
from gateway_core.domain import money
from gateway_core.invoices.export import export_chunks, row_record
from gateway_core.invoices.listing import PAGE_SIZE, InvoiceFilter, iter_invoices, list_invoices, parse_filter
from gateway_core.invoices.manage import cancel_invoice, get_invoice, public_invoice
from gateway_core.stores.manage import find_store
from gateway_core.views import InvoiceView

FILTERS = (  # option, query key, help
    ("--status", "status", "pending, partially_paid, paid, confirmed, settled, expired, underpaid, cancelled"),
    ("--from", "from", "created at or after: YYYY-MM-DD (UTC) or an ISO 8601 time with its zone"),
    ("--to", "to", "created before the end of this day (YYYY-MM-DD) or before this ISO 8601 time"),
    ("--asset", "asset", "paid in (else chosen) SOL, USDC or USDT"),
    ("--network", "network", "sandbox, devnet or mainnet"),
    ("--contract", "contract", "voltxt, virtexgate, veltpay or venta"),
    ("--platform", "platform", "the storefront platform, e.g. woocommerce"),
    ("--search", "q", "start of an invoice number, an external id (exact case) or a customer email"),
)


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The store and the dashboard's filters, as options."""
    for option, key, text in reversed(FILTERS):
        command = click.option(option, f"filter_{key}", default=None, help=text)(command)
    return click.option("--store", "store_ref", required=True, help="store id or exact name")(command)


def _filter(options: dict[str, Any]) -> InvoiceFilter:
    return parse_filter({key.removeprefix("filter_"): value for key, value in options.items()
                         if key.startswith("filter_")})


@group("invoice")
def invoice_group() -> None:
    """A store's invoices: list, show, cancel, export."""


@invoice_group.command("list")
@filter_options
@click.option("--limit", default=PAGE_SIZE, show_default=True, type=click.IntRange(1, 500))
@click.option("--after", default=None, help="the cursor printed after the previous page")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@with_appcontext
def invoice_list(store_ref: str, limit: int, after: str | None, as_json: bool, **options: Any) -> None:
    """List a store's invoices, newest first, one page at a time (the next page's cursor goes to stderr)."""
    svc = services()
    flt = _filter(options)
    with svc.uow(read_only=True) as uow:
        store = find_store(uow, store_ref)
        page = list_invoices(uow, store.id, flt, after=after, limit=limit)
    for row in page.rows:
        if as_json:
            click.echo(json.dumps(row_record(row)))
        else:
            click.echo("\t".join((row.number, row.created_at.strftime("%Y-%m-%d %H:%M"), row.status,
                                  f"{row.fiat_amount} {row.fiat_currency}", row.asset or "-",
                                  row.external_id or "-", row.customer_email or "-")))
    if page.older:
        click.echo(f"more: --after {page.older}", err=True)


def _view(uow: Any, number: str, store_ref: str | None, clock: Any) -> InvoiceView:
    if store_ref is None:
        return public_invoice(uow, number, clock)
    return get_invoice(uow, find_store(uow, store_ref), number, clock)


def _units(units: int, asset: str) -> str:
    return money.plain(money.from_base_units(units, money.asset(asset)))


@invoice_group.command("show")
@click.argument("number")
@click.option("--store", "store_ref", default=None, help="only if it is this store's (id or exact name)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@with_appcontext
def invoice_show(number: str, store_ref: str | None, as_json: bool) -> None:
    """Show an invoice: its amounts, what each asset is due and paid, its payments."""
    svc = services()
    with svc.uow(read_only=True) as uow:
        view = _view(uow, number, store_ref, svc.clock)
    quotes = [{"asset": q.asset, "address": q.address, "due": _units(q.amount_due, q.asset),
               "paid": _units(q.amount_paid, q.asset)} for q in view.quotes]
    payments = [{"tx_id": p.tx_id, "asset": p.asset, "amount": _units(p.amount, p.asset),
                 "confirmations": p.confirmations, "final": p.final, "disposition": p.disposition}
                for p in view.payments]
    facts = {"number": view.number, "store_id": view.store_id, "status": view.status.value,
             "overpaid": view.overpaid, "paid_late": view.paid_late, "contract": view.contract,
             "platform": view.platform, "external_id": view.external_id, "customer_email": view.customer_email,
             "amount": f"{view.fiat_amount}", "currency": view.fiat_currency,
             "created_at": view.created_at.isoformat(), "expires_at": view.expires_at.isoformat()}
    if as_json:
        click.echo(json.dumps({**facts, "quotes": quotes, "payments": payments}))
        return
    for key, value in facts.items():
        click.echo(f"{key}: {'-' if value is None else value}")
    for q in quotes:
        click.echo(f"quote: {q['asset']} due {q['due']} paid {q['paid']} to {q['address']}")
    for p in payments:
        click.echo(f"payment: {p['amount']} {p['asset']} tx {p['tx_id']} ({p['disposition']}, "
                   f"{p['confirmations']} confirmations)")


@invoice_group.command("cancel")
@click.argument("number")
@click.option("--store", "store_ref", default=None, help="only if it is this store's (id or exact name)")
@with_appcontext
def invoice_cancel(number: str, store_ref: str | None) -> None:
    """Cancel an open invoice (as the store's API would: its event and webhooks follow)."""
    svc = services()
    with svc.uow() as uow:
        store = find_store(uow, store_ref if store_ref is not None
                           else public_invoice(uow, number, svc.clock).store_id)
        view = cancel_invoice(uow, store, number, svc.clock)
    click.echo(f"Invoice {view.number} is {view.status.value}")


@invoice_group.command("export")
@filter_options
@click.option("--csv", "fmt", flag_value="csv", default=True, help="CSV with a header line (the default)")
@click.option("--json", "fmt", flag_value="json", help="one JSON array")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="write here instead of standard output")
@with_appcontext
def invoice_export(store_ref: str, fmt: str, output: Any, **options: Any) -> None:
    """Write every invoice the filters select, newest first, as it is read (any number of invoices)."""
    svc = services()
    flt = _filter(options)
    with svc.uow(read_only=True) as uow:
        store = find_store(uow, store_ref)
        for chunk in export_chunks(iter_invoices(uow, store.id, flt), fmt):
            output.write(chunk)
