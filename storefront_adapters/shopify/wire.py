"""Shopify's wire conventions: shop domains, the two HMAC schemes, and the URLs we call on a shop."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

# Shopify's own check for a shop's permanent domain (the OAuth and install links carry it as `shop`).
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


def shop_domain(value: object) -> str | None:
    """The shop's permanent *.myshopify.com domain, lower-cased, or None for anything else."""
    if not isinstance(value, str):
        return None
    shop = value.strip().lower()
    return shop if SHOP_DOMAIN.fullmatch(shop) else None


def shop_origin(shop: str) -> str:
    """What a Shopify installation's account is: the shop's HTTPS origin (also its outbox endpoint)."""
    return f"https://{shop}"


def shop_of(account: str) -> str:
    return account.removeprefix("https://")


def api_origin(account: str, override: str = "") -> str:
    """Where API calls for this shop go: its origin, or SHOPIFY_API_ORIGIN (a local fake in development)."""
    return override.rstrip("/") or account


def graphql_url(origin: str, version: str) -> str:
    return f"{origin}/payments_apps/api/{version}/graphql.json"


def access_token_url(origin: str) -> str:
    return f"{origin}/admin/oauth/access_token"


def authorize_url(shop: str, client_id: str, scopes: str, redirect_uri: str, state: str) -> str:
    """The shop admin's consent screen (offline access: the token outlives the merchant's login)."""
    query = urlencode({"client_id": client_id, "scope": scopes, "redirect_uri": redirect_uri, "state": state})
    return f"https://{shop}/admin/oauth/authorize?{query}"


def settings_url(shop: str, client_id: str) -> str:
    """Where Shopify asks payments apps to send the merchant once onboarding is done."""
    return f"https://{shop}/services/payments_partners/gateways/{client_id}/settings"


# -- signatures ----------------------------------------------------------------------------------------------


QUERY_MAX_AGE = timedelta(days=1)  # shopify_python_api's replay window for signed queries


def _signature_pairs(params: Mapping[str, Sequence[str]]) -> Iterator[str]:
    """`key=value` pairs as shopify_python_api's Session.calculate_hmac encodes them (escaped, unsorted)."""
    for key, values in params.items():
        if key == "hmac":
            continue
        if key.endswith("[]"):  # ids[]=1&ids[]=2 is signed as ids=["1", "2"] (JSON, in the order sent)
            key, value = key.rstrip("[]"), json.dumps([str(v) for v in values])
        elif len(values) == 1:
            value = values[0]
        else:
            raise ValueError(f"{key} is repeated without []: Shopify never signs that")
        # Delimiters are escaped so that no pair can pass for two (or two for one).
        key = key.replace("%", "%25").replace("=", "%3D")
        yield f"{key}={value.replace('%', '%25')}".replace("&", "%26")


def query_hmac(params: Mapping[str, Sequence[str]], secret: str) -> str:
    """Hex HMAC-SHA256 of the encoded `key=value` pairs, sorted and joined by '&', `hmac` left out."""
    message = "&".join(sorted(_signature_pairs(params)))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def query_signed(params: Mapping[str, Sequence[str]], secret: str, now: datetime) -> bool:
    """Whether Shopify signed this query string (OAuth callback, install link) with the app's secret, within
    a day of `now` by its `timestamp` (an older or far-future link could be a replay)."""
    given = params.get("hmac")
    stamps = params.get("timestamp")
    if not secret or not given or len(given) != 1 or not stamps or len(stamps) != 1:
        return False
    try:
        signed_at = datetime.fromtimestamp(int(stamps[0]), UTC)
        expected = query_hmac(params, secret)
    except (ValueError, OverflowError, OSError):
        return False
    if abs(now - signed_at) > QUERY_MAX_AGE:
        return False
    return hmac.compare_digest(expected, given[0].lower())


def webhook_hmac(body: bytes, secret: str) -> str:
    """X-Shopify-Hmac-Sha256: base64 of the HMAC-SHA256 of the raw body, keyed by the app's secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_signed(body: bytes, header: str | None, secret: str) -> bool:
    if not secret or not header:
        return False
    return hmac.compare_digest(webhook_hmac(body, secret).encode(), header.strip().encode())
