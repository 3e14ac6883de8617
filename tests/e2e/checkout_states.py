"""A gateway in a thread, helpers that bring an invoice to each of the payment page's states, and
`visit_each_state`: the one loop that opens the page in every state, for every check that reads it there."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from bridge import create_app
from gateway_core.adapters import wakeup
from gateway_core.bootstrap import build_services
from gateway_core.config import Settings
from gateway_core.stores.manage import create_store
from gateway_core.worker import background_worker

CHROMIUM = "/usr/bin/chromium"
HAS_CHROMIUM = os.path.exists(CHROMIUM)
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
STATES = ("choose", "awaiting-SOL", "awaiting-USDC", "awaiting-USDT", "partial", "confirming", "paid", "overpaid",
          "paid-late", "expired", "underpaid", "cancelled")
FINALITY_SECONDS = 0.5
# For a browser test of what a page shows (an email, the payment page's layout), where the database only stores
# what is shown: run on SQLite alone. The database side is covered on both by the integration tests.
ONE_DATABASE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class OffsetClock:
    """Wall-clock time plus an offset the test can move forward (shared by the web side and the worker)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Gateway:
    base: str
    clock: OffsetClock
    api_key: str
    services: Any

    def create_invoice(self, **fields: Any) -> dict[str, Any]:
        """The VOLTXT create answer (number, payment options) for a 99.99 USD invoice."""
        body = {"api_key": self.api_key, "platform": "custom", "amount": "99.99", "fiat_currency": "USD",
                "external_invoice_id": f"order-{datetime.now(UTC).timestamp()}", **fields}
        response = requests.post(f"{self.base}/api/plugin/invoice/create", json=body, timeout=10)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def create(self, **fields: Any) -> str:
        """A described invoice with a way back to the cart; returns its number."""
        return str(self.create_invoice(**{"description": "Blue mug, 350 ml", "cancel_url": "https://shop.example/cart",
                                          **fields})["invoice_number"])

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


def serve(database_url: str, tmp_path: Path, contact: bool = True, **overrides: Any) -> Iterator[Gateway]:
    """A gateway (web and worker) on an ephemeral port with a sandbox store (its contact details set unless
    `contact` is false); `overrides` are settings."""
    port = free_port()
    settings = Settings.from_env(
        {}, instance_path=str(tmp_path / "instance"), database_url=database_url, secret_key="e2e-secret",
        public_url=f"http://127.0.0.1:{port}", **{"sandbox_finality_seconds": FINALITY_SECONDS,
                                                   "watch_interval_seconds": 0.2, "expiry_interval_seconds": 0.3,
                                                   **overrides},
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
    if contact:
        from gateway_core.adapters.models import Store

        with services.uow() as uow:
            row = uow.session.get(Store, store.id)
            row.support_email, row.website_url = "help@mug.example", "https://mug.example"
    try:
        yield Gateway(f"http://127.0.0.1:{port}", clock, store.api_key, services)
    finally:
        worker.shutdown(wait=True)
        server.shutdown()
        server.server_close()
        if services.engine is not None:
            services.engine.dispose()
        from bridge.extensions import db

        with app.app_context():
            db.engine.dispose()


def bring_to(gateway: Gateway, state: str) -> tuple[str, str]:
    """An invoice in `state`; returns its number and the phase the page shows.

    Only invoices made here are moved: the clock goes forward two hours for the late states, past their own
    one-hour window but far inside the default day of every invoice made before, so one gateway serves any
    number of states in any order."""
    if state == "cancelled":
        return gateway.cancelled(), "cancelled"
    if state in ("expired", "underpaid", "paid-late"):
        number = gateway.create(expiry_hours=1)
        if state == "underpaid":
            gateway.simulate(number, asset="SOL", mode="partial")
        gateway.clock.offset += timedelta(hours=2)
        if state == "paid-late":
            gateway.simulate(number, asset="SOL", mode="full")
        # A page opened before the worker has closed the invoice would see it lapse and then check only every
        # 15 seconds (nothing but a late payment can change it): the page is opened once the server says so.
        phase = "paid" if state == "paid-late" else state
        reaches(gateway, number, phase, paid_late=state == "paid-late")
        return number, phase
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


def reaches(gateway: Gateway, number: str, phase: str, paid_late: bool = False, seconds: float = 30.0) -> None:
    """Until the server's status document shows `phase`: re-read at each change the worker commits (it runs in
    this process and signals them), and at least once a second."""
    deadline = time.monotonic() + seconds
    while True:
        seen = wakeup.changes.generation()
        status = requests.get(f"{gateway.base}/pay/{number}/status.json", timeout=10).json()
        if status["phase"] == phase and status["paid_late"] == paid_late:
            return
        assert time.monotonic() < deadline, f"{number} is {status['phase']}, not {phase}, after {seconds} s"
        wakeup.changes.wait(seen, 1.0)


def page_url(gateway: Gateway, state: str, number: str) -> str:
    return f"{gateway.base}/pay{'-dynamic' if state == 'cancelled' else ''}/{number}"


@dataclass(frozen=True)
class Visit:
    state: str
    number: str
    phase: str
    panel: str


def open_state(page: Any, gateway: Gateway, state: str, number: str, phase: str) -> Visit:
    """The page of an invoice brought to `state`, once it shows that state in full (the worker has seen the
    payment, the receipt and any overpaid or late note are in)."""
    page.goto(page_url(gateway, state, number))
    page.wait_for_selector(f'main#checkout[data-phase="{phase}"]', timeout=20_000)
    if phase == "paid":
        page.wait_for_selector("[data-panel-id=paid] [data-receipt]", timeout=10_000)
    if state in ("overpaid", "paid-late"):
        page.wait_for_selector(f"[data-bind={state}]:visible", timeout=10_000)
    return Visit(state, number, phase, page.get_attribute("main#checkout", "data-panel") or "")


def visit_each_state(page: Any, gateway: Gateway, states: Sequence[str] = STATES) -> Iterator[Visit]:
    """Brings a fresh invoice to each state in turn and yields once its page shows it; the caller runs every
    check it has on that visit before asking for the next. The sandbox's finality is put back after the
    confirming state (it is held off for that state only)."""
    for state in states:
        number, phase = bring_to(gateway, state)
        try:
            yield open_state(page, gateway, state, number, phase)
        finally:
            if state == "confirming":
                gateway.services.chains["sandbox"]._finality = gateway.services.settings.sandbox_finality_seconds
