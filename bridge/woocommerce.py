"""WooCommerce without the plugin: the order webhook a shop's WooCommerce sends (WooCommerce > Settings >
Advanced > Webhooks, topic "Order created"); `voltbridge woocommerce connect|invoice` are in bridge.cli.

Paid orders are reported back through the outbox channel "woocommerce" (storefront_adapters/woocommerce).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

from flask import Blueprint, Response, request

from bridge.errors import Problem, register_format
from bridge.extensions import services
from bridge.jsonio import check_text, json_response
from gateway_core.adapters.models import PlatformInstallation
from storefront_adapters.woocommerce.channel import decrypt_credentials
from storefront_adapters.woocommerce.orders import invoice_for_order

bp = Blueprint("woocommerce", __name__, url_prefix="/storefronts/woocommerce")
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
        except (ValueError, RecursionError):
            return render_error(Problem(400, "INVALID_JSON", "The body is not JSON"), "")
        if isinstance(order, dict):
            check_text(order)  # the order's names and notes become the invoice's text
        if not isinstance(order, dict) or order.get("status") not in _PAYABLE:
            return json_response({"result": "ignored", "reason": "order is not awaiting payment"})
        method = (installation.data or {}).get("payment_method")
        if method and order.get("payment_method") != method:
            return json_response({"result": "ignored", "reason": f"payment method is not {method}"})
        view, created = invoice_for_order(uow, svc, installation, order)
        return json_response({"result": "created" if created else "existing", "invoice_number": view.number,
                              "payment_url": f"{svc.settings.public_url}/pay/{view.number}"},
                             201 if created else 200)
