"""VirtexGate's webhook (shared/specs/virtexgate-api.txt, "Webhooks"): its payload, headers and signature.

X-Signature is the hex HMAC-SHA256 of the exact body bytes, keyed by the store's VirtexGate webhook secret
(`voltbridge store set <store> --contract virtexgate --webhook-url URL` prints it).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gateway_core.contracts.formats import ContractMessage
from gateway_core.contracts.virtexgate_statuses import CONTRACT, invoice_id, invoice_status, store_id, webhook_event
from gateway_core.views import InvoiceView


def timestamp(moment: datetime | None) -> str | None:
    """'2026-05-06T10:12:44Z', the timestamp shape of the spec's examples."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(view: InvoiceView, event: str, at: datetime) -> dict[str, Any]:
    """The spec's payload; `status` is the invoice's VirtexGate status right after the event."""
    metadata = view.metadata or {}
    return {
        "event": event,
        "invoiceId": invoice_id(view),
        "storeId": store_id(view),
        "status": invoice_status(view, at),
        "amount": view.fiat_amount,
        "fiatCurrency": view.fiat_currency,
        "externalOrderId": metadata.get("externalOrderId"),
        "createdAt": timestamp(view.created_at),
        # VirtexGate's Paid is our confirmed: paidAt is when the payment became final.
        "paidAt": timestamp(view.confirmed_at),
        "overpaid": view.overpaid,  # ours: more than due was received (Paid still means "fulfil the order")
    }


class VirtexgateFormat:
    contract = CONTRACT

    def message(self, view: InvoiceView, event_type: str, event_id: str, at: datetime) -> ContractMessage | None:
        event = webhook_event(event_type)
        ident = invoice_id(view)
        if event is None or ident is None:
            return None
        return ContractMessage(event, payload(view, event, at), {"X-Webhook-Event": event, "X-Invoice-Id": ident})

    def sign(self, secret: str, body: bytes, at: datetime) -> Mapping[str, str]:
        return {"X-Signature": signature(secret, body)}


FORMAT = VirtexgateFormat()
