"""The outbox channel "woocommerce": turns an invoice event for a Woo order into REST calls on the shop.

The dispatcher claims the delivery, asks credentials() for the site's consumer key and secret (in the claim
transaction), then calls send() outside any transaction. A refusal (401, 404, 5xx, unreachable) is a failed
attempt: the delivery log records WooCommerce's error, the outbox retries, and a dead letter emails the merchant.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway_core.adapters.jsonwire import loads
from gateway_core.adapters.models import PlatformInstallation
from gateway_core.ports import HttpResult, WebhookTransport
from storefront_adapters.woocommerce.adapter import PLATFORM, plan_update
from storefront_adapters.woocommerce.rest import WooCredentials, WooRestClient

log = logging.getLogger(__name__)


def decrypt_credentials(installation: PlatformInstallation, vault: Any) -> dict[str, str]:
    """The installation's stored secrets ({consumer_key, consumer_secret, webhook_secret?})."""
    if not installation.credentials_encrypted:
        return {}
    data = json.loads(vault.decrypt(installation.credentials_encrypted))
    return {str(k): str(v) for k, v in data.items() if v is not None}


class WooCommerceChannel:
    """ports.DeliveryChannel for WooCommerce sites connected with REST credentials."""

    def __init__(self, public_url: str) -> None:
        self.public_url = public_url.rstrip("/")

    def credentials(self, session: Any, delivery: Any, vault: Any) -> dict[str, str]:
        installation = session.get(PlatformInstallation, loads(delivery.body)["installation_id"])
        if installation is None or installation.platform != PLATFORM:
            return {}
        stored = decrypt_credentials(installation, vault)
        return {k: stored[k] for k in ("consumer_key", "consumer_secret") if k in stored}

    def send(self, job: Any, at: datetime, transport: WebhookTransport, timeout: float) -> HttpResult:
        creds: Mapping[str, str] = job.credentials or {}
        if not creds.get("consumer_key") or not creds.get("consumer_secret"):
            return HttpResult(None, b"", 0.0, "WooCommerce REST credentials are missing (voltbridge woocommerce "
                                              "connect)")
        body = loads(job.body)
        facts = body["invoice"]
        update = plan_update(body["event_type"], facts, str(body["order_ref"]),
                             f"{self.public_url}/pay/{facts['number']}")
        client = WooRestClient(job.url, WooCredentials(creds["consumer_key"], creds["consumer_secret"]),
                               transport, timeout)
        if update.action == "mark_paid":
            return client.mark_paid(update.order_id, update.detail or None)
        if update.action == "processing_late":
            result = client.set_status(update.order_id, "processing", facts.get("payment_tx_id"))
            return result if not result.ok else client.add_note(update.order_id, update.detail)
        if update.action in ("note", "customer_note"):
            return client.add_note(update.order_id, update.detail, customer_note=update.action == "customer_note")
        return HttpResult(204, b"", 0.0)  # nothing to tell the shop about this event

