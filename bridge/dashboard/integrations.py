"""Per-store integrations: each storefront's install steps with this gateway's URL and the store's values."""

from __future__ import annotations

from flask import url_for
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse

from bridge.dashboard.access import store_for
from bridge.dashboard.blueprint import bp, page
from bridge.extensions import services
from storefront_adapters.woocommerce.package import PLUGIN_DIR

Page = tuple[str, int] | BaseResponse


@bp.route("/stores/<int:store_id>/integrations")
@login_required
def integrations(store_id: int) -> Page:
    svc = services()
    base = svc.settings.public_url.rstrip("/")
    with svc.uow(read_only=True) as uow:
        found = store_for(uow, store_id)
        store = found.store
        values = {
            "base": base,
            "store": store,
            # Viewers read the steps but no secret (the webhook secret signs the events the shop trusts).
            "webhook_secret": store.webhook_secret if found.may("keys") else None,
            "may_keys": found.may("keys"),
            "woo_network": "Mainnet" if store.network == "mainnet" else "Testnet",
            "plugin_url": base + url_for("plugins.woocommerce_zip") if PLUGIN_DIR.is_dir() else None,
            "saleor_manifest": f"{base}/saleor/api/manifest",
            "shopify": {"app": f"{base}/shopify/auth", "callback": f"{base}/shopify/auth/callback",
                        "webhooks": f"{base}/shopify/webhooks", "install": f"{base}/shopify/auth?shop="},
        }
        return page("integrations.html", **values)
