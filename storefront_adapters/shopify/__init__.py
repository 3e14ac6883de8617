"""Shopify payments app (DESIGN.md §9): offsite payment sessions paid by voltbridge invoices.

wire.py (shop domains, HMACs, URLs), adapter.py (requests in, per-event actions out), sessions.py (one invoice
per payment session; refund sessions), install.py (operator consent, OAuth, uninstall and privacy),
graphql.py (Payments Apps mutations), channel.py (the outbox channel "shopify"), calls.py (calls that no
invoice event causes). The HTTP entry points are bridge/shopify.py.
"""

from __future__ import annotations

from typing import Any

from storefront_adapters.shopify.channel import ShopifyChannel


def channel(services: Any) -> ShopifyChannel:
    """The outbox channel for Shopify, wired from the core's Services."""
    return ShopifyChannel(services.settings, services.uow)
