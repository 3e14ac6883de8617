"""A gateway in a thread and helpers that bring an invoice to each of the payment page's states."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import make_server

from bridge import create_app
from gateway_core.bootstrap import build_services
from gateway_core.config import Settings
from gateway_core.stores.manage import create_store
from gateway_core.worker import background_worker
from tests.e2e.test_checkout_browser import OffsetClock, _free_port

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
STATES = ("choose", "awaiting-SOL", "awaiting-USDC", "awaiting-USDT", "partial", "confirming", "paid", "overpaid",
          "paid-late", "expired", "underpaid", "cancelled")


@dataclass
class StateGateway:
    base: str
    clock: OffsetClock
    api_key: str
    services: Any

    def create(self, **fields: Any) -> str:
        body = {"api_key": self.api_key, "platform": "custom", "amount": "99.99", "fiat_currency": "USD",
                "external_invoice_id": f"order-{datetime.now(UTC).timestamp()}", "description": "Blue mug, 350 ml",
                "cancel_url": "https://shop.example/cart", **fields}
        response = requests.post(f"{self.base}/api/plugin/invoice/create", json=body, timeout=10)
        assert response.status_code == 201, response.text
        return str(response.json()["invoice_number"])

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(f"{self.base}{path}", json=body, timeout=10)
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    def choose(self, number: str, asset: str) -> None:
        self.post(f"/pay/{number}/asset", {"asset": asset})

    def simulate(self, number: str, **body: Any) -> None:
        self.post(f"/pay/{number}/simulate", body)

    def cancelled(self) -> str:
        session = self.post("/api/dynamic-payment/initiate", {"api_key": self.api_key, "amount": "10.00",
                                                              "external_payment_id": "cart-1",
                                                              "cancel_url": "https://shop.example/cart"})
        number = str(session["data"]["session_id"])
        self.post(f"/api/dynamic-payment/{number}/cancel", {"api_key": self.api_key})
        return number


def serve(database_url: str, tmp_path: Path) -> Iterator[StateGateway]:
    """A gateway (web and worker) on an ephemeral port with a sandbox store that has its contact details set."""
    port = _free_port()
    settings = Settings.from_env(
        {}, instance_path=str(tmp_path / "instance"), database_url=database_url, secret_key="e2e-secret",
        public_url=f"http://127.0.0.1:{port}", sandbox_finality_seconds=0.5, watch_interval_seconds=0.2,
        expiry_interval_seconds=0.3,
    )
    clock = OffsetClock()
    app = create_app(settings, clock=clock)
    server = make_server("127.0.0.1", port, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    services = build_services(settings, clock=clock)
    worker = background_worker(services)
    worker.start()
    with services.uow() as uow:
        store = create_store(uow, services.vault, name="Blue Mug Co.", network="sandbox", email="shop@mug.test")
    from gateway_core.adapters.models import Store

    with services.uow() as uow:
        row = uow.session.get(Store, store.id)
        row.support_email, row.website_url = "help@mug.example", "https://mug.example"
    try:
        yield StateGateway(f"http://127.0.0.1:{port}", clock, store.api_key, services)
    finally:
        worker.shutdown(wait=True)
        server.shutdown()
        server.server_close()
        if services.engine is not None:
            services.engine.dispose()
        from bridge.extensions import db

        with app.app_context():
            db.engine.dispose()


def bring_to(gateway: StateGateway, state: str) -> tuple[str, str]:
    """An invoice in `state`; returns its number and the phase the page shows."""
    if state == "cancelled":
        return gateway.cancelled(), "cancelled"
    if state in ("expired", "underpaid", "paid-late"):
        number = gateway.create(expiry_hours=1)
        if state == "underpaid":
            gateway.simulate(number, asset="SOL", mode="partial")
        gateway.clock.offset += timedelta(hours=2)
        if state == "paid-late":
            gateway.simulate(number, asset="SOL", mode="full")
            return number, "paid"
        return number, state
    number = gateway.create()
    if state == "choose":
        return number, "choose"
    if state.startswith("awaiting-"):
        gateway.choose(number, state.split("-", 1)[1])
        return number, "awaiting"
    gateway.choose(number, "USDC")
    if state == "partial":
        gateway.simulate(number, mode="partial")
        return number, "partial"
    if state == "confirming":
        gateway.services.chains["sandbox"]._finality = 3600.0  # seen, and final only in an hour
        gateway.simulate(number, mode="full")
        return number, "confirming"
    gateway.simulate(number, mode="overpay" if state == "overpaid" else "full")
    return number, "paid"
