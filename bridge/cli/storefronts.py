"""`voltbridge saleor`, `shopify` and `woocommerce`: the storefront platforms' commands.

They also hang on each app's own `app.cli` (create_app), where `app.test_cli_runner()` finds them.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

import click
from flask.cli import with_appcontext

from bridge.cli.group import group
from bridge.extensions import services
from bridge.shopify import BASE_PATH as SHOPIFY_PATH
from gateway_core.stores.manage import find_store
from storefront_adapters.saleor import installations
from storefront_adapters.saleor.manifest import BASE_PATH as SALEOR_PATH
from storefront_adapters.shopify import install
from storefront_adapters.woocommerce.orders import connect_site, installation_for, invoice_for_order


@group("saleor")
def saleor() -> None:
    """Saleor instances allowed to install the payment app."""


@saleor.command("allow")
@click.argument("store")
@click.option("--api-url", required=True, help="the Saleor API URL, e.g. https://shop.example.com/graphql/")
@click.option("--json", "as_json", is_flag=True, help="print the result as one JSON object")
@with_appcontext
def saleor_allow(store: str, api_url: str, as_json: bool) -> None:
    """Let the Saleor instance at API_URL install the app and take payments into STORE."""
    svc = services()
    with svc.uow() as uow:
        found = find_store(uow, store)
        url, created = installations.allow(uow, found, api_url, svc.settings.outbound_allowlist, svc.clock)
        store_id = found.id
    manifest_url = f"{svc.settings.public_url}{SALEOR_PATH}/manifest"
    if as_json:
        click.echo(json.dumps({"store_id": store_id, "api_url": url, "allowed": True, "new": created,
                               "manifest_url": manifest_url}))
        return
    click.echo(f"Saleor instance {url} {'allowed' if created else 'was already allowed'} for store {store_id}.")
    click.echo(f"Install the app from its dashboard with the manifest URL {manifest_url}")


@saleor.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def saleor_list(as_json: bool) -> None:
    """Saleor instances allowed or registered, with their store."""
    svc = services()
    with svc.uow() as uow:
        rows = installations.listing(uow)
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(f"{row['api_url']}  store {row['store_id']}  {row['status']}  {row['app_id'] or '-'}")


@group("shopify")
def shopify() -> None:
    """Shopify shops allowed to install the payments app."""


@shopify.command("allow")
@click.argument("store")
@click.option("--shop", required=True, help="the shop's permanent domain, e.g. my-shop.myshopify.com")
@click.option("--test-store", default=None, help="a sandbox/devnet store for the app's test mode (test sessions)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@with_appcontext
def shopify_allow(store: str, shop: str, test_store: str | None, as_json: bool) -> None:
    """Let a Shopify shop install the payments app and pay into STORE (the operator's consent)."""
    svc = services()
    with svc.uow() as uow:
        allowed = install.allow_shop(uow, svc.clock, store, shop, test_store)
    if as_json:
        click.echo(json.dumps(allowed.__dict__))
        return
    click.echo(f"{allowed.shop} may install the app; payments go to store {allowed.store_name} (#{allowed.store_id})"
               + (f", test payments to store #{allowed.test_store_id}" if allowed.test_store_id else ""))
    click.echo(f"Install link for the merchant: {svc.settings.public_url}{SHOPIFY_PATH}/auth?shop={allowed.shop}")


@group("woocommerce")
def woocommerce() -> None:
    """WooCommerce sites connected without the plugin."""


@woocommerce.command("connect")
@click.argument("store")
@click.option("--site-url", required=True, help="the shop's address, e.g. https://shop.example.com")
@click.option("--consumer-key", required=True, help="WooCommerce > Settings > Advanced > REST API (ck_...)")
@click.option("--consumer-secret", required=True, help="cs_...; Read/Write permission")
@click.option("--webhook-secret", default=None, help="secret of the WooCommerce order webhook (default: generated)")
@click.option("--payment-method", default=None, help="invoice only orders with this payment method id (e.g. bacs)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (for scripts)")
@with_appcontext
def woocommerce_connect(store: str, site_url: str, consumer_key: str, consumer_secret: str,
                        webhook_secret: str | None, payment_method: str | None, as_json: bool) -> None:
    """Connect STORE (id or name) to a WooCommerce site with REST API keys; paid orders get marked paid."""
    svc = services()
    with svc.uow() as uow:
        installation, secret = connect_site(uow, svc.vault, find_store(uow, store), site_url, consumer_key,
                                            consumer_secret, webhook_secret)
        if payment_method:
            installation.data = {**(installation.data or {}), "payment_method": payment_method}
        shown = {"installation_id": installation.id, "store_id": installation.store_id,
                 "site_url": installation.account, "auth": (installation.data or {}).get("auth"),
                 "webhook_url": f"{svc.settings.public_url}/storefronts/woocommerce/{installation.id}/orders",
                 "webhook_secret": secret}
    if as_json:
        click.echo(json.dumps(shown))
        return
    click.echo(f"Connected {shown['site_url']} to store {shown['store_id']} (installation {shown['installation_id']}, "
               f"{shown['auth']} authentication).")
    click.echo("In WooCommerce > Settings > Advanced > Webhooks, add a webhook:")
    click.echo("  Topic: Order created   API version: WP REST API Integration v3")
    click.echo(f"  Delivery URL: {shown['webhook_url']}")
    click.echo(f"  Secret: {secret}")


@woocommerce.command("invoice")
@click.argument("store")
@click.option("--site", required=True, help="connected site: its URL or installation id")
@click.option("--order-id", required=True, help="the WooCommerce order id")
@click.option("--amount", required=True, help="the order total, e.g. 25.00")
@click.option("--currency", required=True, help="the order currency, e.g. USD")
@click.option("--email", default=None, help="buyer email (shown on the invoice)")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def woocommerce_invoice(store: str, site: str, order_id: str, amount: str, currency: str, email: str | None,
                        as_json: bool) -> None:
    """Invoice one WooCommerce order by hand (the same as its order webhook); prints the payment URL."""
    try:
        Decimal(amount)
    except InvalidOperation:
        raise click.BadParameter("not a decimal number", param_hint="--amount") from None
    svc = services()
    order = {"id": order_id, "total": amount, "currency": currency, "billing": {"email": email}}
    with svc.uow() as uow:
        installation = installation_for(uow, find_store(uow, store), site)
        view, created = invoice_for_order(uow, svc, installation, order)
    url = f"{svc.settings.public_url}/pay/{view.number}"
    if as_json:
        click.echo(json.dumps({"invoice_number": view.number, "payment_url": url, "created": created,
                               "status": view.status.value}))
        return
    click.echo(f"{'Created' if created else 'Existing'} invoice {view.number} for order {order_id}: {url}")


GROUPS = (saleor, shopify, woocommerce)
