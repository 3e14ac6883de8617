"""WooCommerce without the plugin: `voltbridge woocommerce connect|invoice`, and the order webhook a shop's
WooCommerce sends (WooCommerce > Settings > Advanced > Webhooks, topic "Order created").

Paid orders are reported back through the outbox channel "woocommerce" (storefront_adapters/woocommerce).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import click
from flask import Blueprint, Response, current_app, request

from bridge.errors import Problem, register_format
from bridge.jsonio import json_response
from gateway_core.adapters.models import PlatformInstallation
from gateway_core.bootstrap import Services
from gateway_core.domain.errors import GatewayError
from gateway_core.services.stores import find_store
from storefront_adapters.woocommerce.channel import decrypt_credentials
from storefront_adapters.woocommerce.orders import connect_site, installation_for, invoice_for_order

bp = Blueprint("woocommerce", __name__, url_prefix="/storefronts/woocommerce", cli_group="woocommerce")
# The ping WooCommerce sends when a webhook is saved: a form body with the webhook id and no signature.
_PING = re.compile(rb"^webhook_id=\d+$")
# Orders that still await payment: WooCommerce's own offline methods leave them pending or on hold.
_PAYABLE = ("pending", "on-hold")


def render_error(problem: Problem, request_id: str) -> Response:
    """WordPress REST's error shape, which WooCommerce keeps in its webhook delivery log."""
    return json_response({"code": problem.code.lower(), "message": problem.message,
                          "data": {"status": problem.status, "errors": problem.errors, "request_id": request_id}},
                         problem.status)


@bp.record_once
def _formats(state: Any) -> None:
    register_format(state.app, "/storefronts/woocommerce", render_error)


def services() -> Services:
    svc: Services = current_app.extensions["voltbridge"]
    return svc


def _signed(secret: str, body: bytes, signature: str) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, signature)


@bp.post("/<int:installation_id>/orders")
def order_webhook(installation_id: int) -> Response:
    """WooCommerce's order.created webhook: verify X-WC-Webhook-Signature, then invoice the order."""
    body = request.get_data(cache=False)
    signature = request.headers.get("X-WC-Webhook-Signature", "")
    if not signature and _PING.match(body):
        return json_response({"result": "pong"})
    svc = services()
    with svc.uow() as uow:
        installation = uow.session.get(PlatformInstallation, installation_id)
        secret = decrypt_credentials(installation, svc.vault).get("webhook_secret") if installation else None
        if installation is None or installation.platform != "woocommerce" or not secret \
                or not _signed(secret, body, signature):
            return render_error(Problem(401, "WOOCOMMERCE_INVALID_SIGNATURE",
                                        "Invalid X-WC-Webhook-Signature"), "")
        try:
            order = json.loads(body)
        except ValueError:
            return render_error(Problem(400, "INVALID_JSON", "The body is not JSON"), "")
        if not isinstance(order, dict) or order.get("status") not in _PAYABLE:
            return json_response({"result": "ignored", "reason": "order is not awaiting payment"})
        method = (installation.data or {}).get("payment_method")
        if method and order.get("payment_method") != method:
            return json_response({"result": "ignored", "reason": f"payment method is not {method}"})
        view, created = invoice_for_order(uow, svc, installation, order)
    return json_response({"result": "created" if created else "existing", "invoice_number": view.number,
                          "payment_url": f"{svc.settings.public_url}/pay/{view.number}"}, 201 if created else 200)


# -- command line --------------------------------------------------------------------------------------------


def _fail(exc: GatewayError) -> None:
    detail = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
    raise click.ClickException(f"{exc.message}{' (' + detail + ')' if detail else ''}")


@bp.cli.command("connect")
@click.argument("store")
@click.option("--site-url", required=True, help="the shop's address, e.g. https://shop.example.com")
@click.option("--consumer-key", required=True, help="WooCommerce > Settings > Advanced > REST API (ck_...)")
@click.option("--consumer-secret", required=True, help="cs_...; Read/Write permission")
@click.option("--webhook-secret", default=None, help="secret of the WooCommerce order webhook (default: generated)")
@click.option("--payment-method", default=None, help="invoice only orders with this payment method id (e.g. bacs)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (for scripts)")
def connect_command(store: str, site_url: str, consumer_key: str, consumer_secret: str, webhook_secret: str | None,
                    payment_method: str | None, as_json: bool) -> None:
    """Connect STORE (id or name) to a WooCommerce site with REST API keys; paid orders get marked paid."""
    svc = services()
    try:
        with svc.uow() as uow:
            installation, secret = connect_site(uow, svc.vault, find_store(uow, store), site_url, consumer_key,
                                                consumer_secret, webhook_secret)
            if payment_method:
                installation.data = {**(installation.data or {}), "payment_method": payment_method}
            shown = {"installation_id": installation.id, "store_id": installation.store_id,
                     "site_url": installation.account, "auth": (installation.data or {}).get("auth"),
                     "webhook_url": f"{svc.settings.public_url}/storefronts/woocommerce/{installation.id}/orders",
                     "webhook_secret": secret}
    except GatewayError as exc:
        _fail(exc)
        return
    if as_json:
        click.echo(json.dumps(shown))
        return
    click.echo(f"Connected {shown['site_url']} to store {shown['store_id']} (installation {shown['installation_id']}, "
               f"{shown['auth']} authentication).")
    click.echo("In WooCommerce > Settings > Advanced > Webhooks, add a webhook:")
    click.echo("  Topic: Order created   API version: WP REST API Integration v3")
    click.echo(f"  Delivery URL: {shown['webhook_url']}")
    click.echo(f"  Secret: {secret}")


@bp.cli.command("invoice")
@click.argument("store")
@click.option("--site", required=True, help="connected site: its URL or installation id")
@click.option("--order-id", required=True, help="the WooCommerce order id")
@click.option("--amount", required=True, help="the order total, e.g. 25.00")
@click.option("--currency", required=True, help="the order currency, e.g. USD")
@click.option("--email", default=None, help="buyer email (shown on the invoice)")
@click.option("--json", "as_json", is_flag=True)
def invoice_command(store: str, site: str, order_id: str, amount: str, currency: str, email: str | None,
                    as_json: bool) -> None:
    """Invoice one WooCommerce order by hand (the same as its order webhook); prints the payment URL."""
    try:
        Decimal(amount)
    except InvalidOperation:
        raise click.BadParameter("not a decimal number", param_hint="--amount") from None
    svc = services()
    order = {"id": order_id, "total": amount, "currency": currency, "billing": {"email": email}}
    try:
        with svc.uow() as uow:
            installation = installation_for(uow, find_store(uow, store), site)
            view, created = invoice_for_order(uow, svc, installation, order)
    except GatewayError as exc:
        _fail(exc)
        return
    url = f"{svc.settings.public_url}/pay/{view.number}"
    if as_json:
        click.echo(json.dumps({"invoice_number": view.number, "payment_url": url, "created": created,
                               "status": view.status.value}))
        return
    click.echo(f"{'Created' if created else 'Existing'} invoice {view.number} for order {order_id}: {url}")
