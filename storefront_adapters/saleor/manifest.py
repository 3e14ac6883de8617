"""The app manifest Saleor reads when the shop owner installs the app (Saleor's Manifest schema)."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from storefront_adapters.saleor.consts import APP_ID, APP_NAME, PERMISSIONS, REQUIRED_SALEOR_VERSION, SYNC_WEBHOOKS

BASE_PATH = "/saleor/api"


def app_version() -> str:
    try:
        return metadata.version("voltbridge")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "0.0.0"


def webhook_url(public_url: str, slug: str) -> str:
    return f"{public_url}{BASE_PATH}/webhooks/{slug}"


def manifest(public_url: str) -> dict[str, Any]:
    """The manifest for a gateway reachable at public_url (never the request's Host: it is the client's)."""
    return {
        "id": APP_ID,
        "version": app_version(),
        "name": APP_NAME,
        "about": "Accept SOL and USDC on Solana and USDT on TRON through your voltbridge gateway. "
                 "Buyers pay on the gateway's hosted page; payments are reported to Saleor transactions.",
        "author": "voltbridge",
        "permissions": list(PERMISSIONS),
        "appUrl": f"{public_url}{BASE_PATH}/app",
        "tokenTargetUrl": f"{public_url}{BASE_PATH}/register",
        "requiredSaleorVersion": REQUIRED_SALEOR_VERSION,
        "homepageUrl": public_url,
        "webhooks": [
            {"name": event.replace("_", " ").title(), "syncEvents": [event], "query": query,
             "targetUrl": webhook_url(public_url, slug), "isActive": True}
            for event, (slug, query) in SYNC_WEBHOOKS.items()
        ],
        "extensions": [],
    }
