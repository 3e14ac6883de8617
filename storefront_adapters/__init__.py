"""Storefront platforms (WooCommerce, Saleor, Shopify), each a package behind the protocol in base.py."""
