"""The Flask side of voltbridge: create_app is the only place an app is built."""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from typing import Any

from flask import Flask, g, request

from bridge import errors
from bridge.extensions import SERVICES, db
from gateway_core.adapters.db import configure_engine, engine_options, normalise_url
from gateway_core.bootstrap import Services, build_services
from gateway_core.config import Settings
from gateway_core.keys.usage import KEY_USAGE
from gateway_core.logs import configure_logging

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("bridge")


def _record_key_use(app: Flask) -> None:
    with app.app_context():
        svc = app.extensions[SERVICES]
        KEY_USAGE.flush(svc.uow, svc.clock)


def create_app(settings: Settings | None = None, services: Services | None = None, **overrides: Any) -> Flask:
    """Build the app from settings (read from the environment when not given)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
                instance_path=settings.instance_path)
    url = normalise_url(settings.database_url)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(url),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        JSON_SORT_KEYS=False,
    )
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    from storefront_adapters import install_channels

    app.extensions[SERVICES] = services or install_channels(
        build_services(settings, sessions=lambda: db.session(), **overrides))  # the session, not its proxy
    app.extensions["voltbridge.settings"] = settings

    if settings.trust_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    @app.before_request
    def _request_id() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if 8 <= len(incoming) <= 64 and incoming.isprintable() else secrets.token_hex(8)
        g.started = time.perf_counter()

    from bridge.jsonio import check_url

    app.before_request(check_url)  # text at the door (issue 14): after the request id, before any blueprint's hook

    @app.after_request
    def _stamp(response: Any) -> Any:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if KEY_USAGE.due():  # API keys' "last used": written at most once a minute, after the response is sent
            response.call_on_close(lambda: _record_key_use(app))
        return response

    from bridge import checkout, health
    from bridge.contracts import dynamic_payment, voltxt

    app.register_blueprint(health.bp)
    app.register_blueprint(voltxt.bp)
    app.register_blueprint(dynamic_payment.bp)
    app.register_blueprint(checkout.bp)
    from bridge.contracts import voltxt_notifications  # issue 4: notification settings, tests, stats, log

    app.register_blueprint(voltxt_notifications.bp)
    from bridge import openapi  # issue 8: /openapi/<contract>.yaml

    app.register_blueprint(openapi.bp)
    # Contracts and storefront platforms (issues 7 and 8) register their blueprints below, one block each.
    from bridge import plugins, woocommerce  # issue 7: /plugins/woocommerce.zip; WooCommerce REST + order webhook

    app.register_blueprint(plugins.bp)
    app.register_blueprint(woocommerce.bp)
    from bridge.contracts import venta  # issue 8: VentaConnect (/v1/checkout, /v1/dev; errors registered there)

    app.register_blueprint(venta.bp)
    from bridge.contracts import virtexgate  # issue 8: VirtexGate (/api/invoices; errors registered there)

    app.register_blueprint(virtexgate.bp)
    from bridge.contracts import veltpay  # issue 8: VeltPay (/v1/orders signed, /v1/public; errors registered there)

    app.register_blueprint(veltpay.api)
    app.register_blueprint(veltpay.public)
    from bridge import saleor  # issue 7: the Saleor payment app (/saleor/api; errors registered there)

    app.register_blueprint(saleor.bp)
    from bridge import shopify  # issue 7: the Shopify payments app (/shopify; errors registered there)

    app.register_blueprint(shopify.bp)
    from bridge import dashboard  # issue 22: the merchant dashboard (/dashboard; HTML error pages there)

    dashboard.init_app(app)
    from bridge import metrics  # issue 23: /metrics, and request counts by contract, endpoint and status

    metrics.install(app)
    errors.init_app(app)
    from bridge.cli.storefronts import GROUPS  # the platforms' commands, on the app's own CLI as blueprints' are

    for group in GROUPS:
        app.cli.add_command(group)
    return app


def app_from_env() -> Flask:
    """The app of the `voltbridge` command and of each gunicorn worker: settings and logging from the environment."""
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)
