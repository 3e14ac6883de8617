"""Storefront plugins the gateway ships, downloadable from it (the WooCommerce plugin zip)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from storefront_adapters.woocommerce.package import PLUGIN_SLUG, etag, plugin_zip

bp = Blueprint("plugins", __name__, url_prefix="/plugins")


@bp.get("/woocommerce.zip")
def woocommerce_zip() -> Response:
    """The WordPress plugin zip: upload it under Plugins > Add New > Upload Plugin."""
    data = plugin_zip()
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{PLUGIN_SLUG}.zip"'
    response.headers["Cache-Control"] = "public, max-age=300"
    response.set_etag(etag(data))
    response.make_conditional(request)  # 304 for a matching If-None-Match
    return response
