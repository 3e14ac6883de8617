"""Webhook signatures: VOLTXT's two HMAC schemes and Standard Webhooks (webhook-id/-timestamp/-signature)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

WHSEC_PREFIX = "whsec_"


def hmac_hex(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def invoice_signature(payload: Mapping[str, Any], webhook_secret: str) -> str:
    """VOLTXT invoice webhooks: hex HMAC-SHA256 of invoice_number + external_invoice_id + event_type + status +
    network, keyed by the store's webhook secret (missing fields count as empty strings, as PHP does)."""
    fields = ("invoice_number", "external_invoice_id", "event_type", "status", "network")
    message = "".join("" if payload.get(name) is None else str(payload[name]) for name in fields)
    return hmac_hex(webhook_secret, message.encode())


def store_signature(body: bytes, api_key: str) -> str:
    """VOLTXT store webhooks: hex HMAC-SHA256 of the exact body bytes keyed by the store's API key."""
    return hmac_hex(api_key, body)


def new_endpoint_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return WHSEC_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def standard_webhook_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """webhook-id, webhook-timestamp and webhook-signature (v1, base64 HMAC-SHA256 of 'id.timestamp.body')."""
    key = base64.b64decode(secret.removeprefix(WHSEC_PREFIX))
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": f"v1,{signature}"}
