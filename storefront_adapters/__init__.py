"""Storefront platforms (WooCommerce, Saleor, Shopify), each a package behind the protocol in base.py."""

from __future__ import annotations

from typing import Any


def install_channels(services: Any) -> Any:
    """Register each platform's outbox channel (its calls back to the platform) on the core's Services.

    Called by every composition root that dispatches deliveries (the app, `voltbridge run`, `voltbridge worker`).
    """
    channels: dict[str, Any] = {}
    # One line per platform (kept explicit so the set of platforms is greppable).
    from storefront_adapters.woocommerce.channel import WooCommerceChannel

    channels["woocommerce"] = WooCommerceChannel(services.settings.public_url)
    from storefront_adapters.saleor.channel import SaleorChannel

    channels["saleor"] = SaleorChannel()
    from storefront_adapters import shopify

    channels["shopify"] = shopify.channel(services)
    services.channels.update(channels)
    return services
