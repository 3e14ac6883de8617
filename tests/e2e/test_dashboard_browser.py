"""The merchant dashboard in headless Chromium, as a merchant uses it (issue 22 point 9).

A real gateway serves HTTP on 127.0.0.1; the worker's jobs are run by the test (a tick for the watcher, the
dispatcher until idle) on a frozen clock the web side shares, so nothing waits on time. Webhooks go to a real
receiver (tests/fakes/receiver.py) told to fail, then to succeed. On every page reached, axe-core must find no
serious or critical violation, and screenshots at 1280 and 390 px wide are saved under ARTIFACTS_DIR (default:
a pytest temporary directory; the path is printed). The browser is the one Chromium the e2e tests share
(tests/e2e/conftest.py).
"""

from __future__ import annotations

import csv
import io
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from bridge import create_app
from gateway_core.bootstrap import Services, dispatcher_for
from gateway_core.clock import FrozenClock
from gateway_core.notifications.dispatch import Dispatcher
from tests.conftest import running_services
from tests.e2e.test_accessibility import violations
from tests.e2e.test_checkout_browser import CHROMIUM, _free_port
from tests.fakes.receiver import Receiver
from tests.integration.notify_support import deliveries, notify_settings_for, pay

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
EMAIL, PASSWORD = "merchant@mug.test", "a long enough passphrase"
WIDTHS = (1280, 390)


@dataclass
class Dashboard:
    base: str
    svc: Services
    dispatcher: Dispatcher
    clock: FrozenClock
    shots: Path
    backend: str
    found: dict[str, list[str]] = field(default_factory=dict)  # axe findings per page

    def check(self, page: Any, name: str) -> None:
        """At each width: axe-core on the page as it is now (a table scrolls only on a phone), then a full-page
        screenshot."""
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            self.found[f"{name}@{width}"] = violations(page)
            page.screenshot(path=str(self.shots / f"dashboard-{name}-{width}-{self.backend}.png"), full_page=True)
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = Path(os.environ["ARTIFACTS_DIR"]) if os.environ.get("ARTIFACTS_DIR") else tmp_path_factory.mktemp("shots")
    where.mkdir(parents=True, exist_ok=True)
    print(f"\ndashboard screenshots: {where}")
    return where


@pytest.fixture
def dashboard(database_url: str, tmp_path: Path, clock: FrozenClock, shots: Path,
              request: pytest.FixtureRequest) -> Iterator[Dashboard]:
    from bridge.extensions import db

    port = _free_port()
    settings = notify_settings_for(database_url, tmp_path, public_url=f"http://127.0.0.1:{port}")
    app = create_app(settings, clock=clock)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    try:
        with running_services(settings, clock) as svc:
            dispatcher = dispatcher_for(svc)
            try:
                yield Dashboard(f"http://127.0.0.1:{port}", svc, dispatcher, clock, shots, backend)
            finally:
                dispatcher.shutdown(wait=True)
    finally:
        server.shutdown()
        server.server_close()
        with app.app_context():
            db.engine.dispose()


def _submit(page: Any, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def test_a_merchant_signs_up_takes_payment_fixes_a_webhook_and_exports(browser: Any, dashboard: Dashboard) -> None:
    from playwright.sync_api import expect

    d = dashboard
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900}, locale="en-US", accept_downloads=True)
    page = context.new_page()
    try:
        with Receiver() as receiver:
            # An anonymous visitor is sent to sign in; the first account on a fresh instance is made by signing up.
            page.goto(f"{d.base}/dashboard/")
            expect(page).to_have_url(re.compile(r"/dashboard/sign-in"))
            d.check(page, "sign-in")
            page.goto(f"{d.base}/dashboard/sign-up")
            d.check(page, "sign-up")
            page.fill("input[name=email]", EMAIL)
            page.fill("input[name=password]", PASSWORD)
            _submit(page, "Create account")
            expect(page).not_to_have_url(re.compile(r"sign-up"))

            # A sandbox store: its wallets are the sandbox ledger's, one per asset.
            page.goto(f"{d.base}/dashboard/stores/new")
            page.fill("input[name=name]", "Blue Mug Co.")
            page.select_option("select[name=network]", "sandbox")
            _submit(page, "Create store")
            with page.expect_navigation():
                page.get_by_role("link", name="Go to the store").click()
            store_url = page.url
            store_id = int(re.search(r"/stores/(\d+)", store_url).group(1))  # type: ignore[union-attr]
            expect(page.get_by_role("heading", level=1)).to_contain_text("Blue Mug Co.")
            d.check(page, "store")
            page.goto(f"{d.base}/dashboard/")
            expect(page.get_by_role("link", name="Blue Mug Co.")).to_be_visible()
            d.check(page, "stores")

            # A VOLTXT key, its secret read from the page that shows it once.
            page.goto(f"{store_url}/keys")
            page.select_option("select[name=kind]", "voltxt")
            _submit(page, "Create key")
            secret = page.locator(".dash-notice .dash-secret code").inner_text().strip()
            assert secret
            d.check(page, "keys")

            # The shop creates an invoice through the VOLTXT API, its callback on a receiver that is down.
            receiver.on("/hook", status=500, body=b'{"error":"shop is down"}')
            answer = requests.post(f"{d.base}/api/plugin/invoice/create", timeout=10, json={
                "api_key": secret, "platform": "custom", "amount": "99.99", "fiat_currency": "USD",
                "external_invoice_id": "order-1001", "customer_email": "alice@buyer.test",
                "callback_url": receiver.url("/hook")})
            assert answer.status_code == 201, answer.text
            number = answer.json()["invoice_number"]

            # Found by a prefix of the order id in the list, then opened.
            invoices = f"{d.base}/dashboard/stores/{store_id}/invoices"
            page.goto(invoices)
            page.fill("input[name=q]", "order-10")
            with page.expect_navigation():
                page.locator("form.dash-filters button[type=submit]").click()
            assert "q=order-10" in page.url
            row = page.get_by_role("link", name=number)
            expect(row).to_be_visible()
            d.check(page, "invoices")
            with page.expect_navigation():
                row.click()
            expect(page.get_by_role("heading", level=1)).to_contain_text(number)

            # Paid in the sandbox; the worker's jobs run: the timeline fills, the callback fails.
            pay(d.svc, number)
            d.dispatcher.run_until_idle()
            page.reload()
            events = page.locator("section[aria-labelledby=events] li")
            expect(events.filter(has_text="invoice.paid")).to_have_count(1)
            expect(events.filter(has_text="invoice.settled")).to_have_count(1)
            expect(page.locator("section[aria-labelledby=payments] table")).to_contain_text("matched")
            articles = page.locator("article.dash-delivery")
            failing = articles.filter(has_text="callback").filter(has=page.locator("td", has_text="500")).first
            expect(failing).to_contain_text("shop is down")
            d.check(page, "invoice")

            # The shop is fixed; the merchant redelivers the failed one and sees it go through.
            receiver.on("/hook", status=200, body=b"ok")
            failed = next(x for x in deliveries(d.svc, channel="callback", invoice_number=number)
                          if x.status == "pending")
            redeliver = page.locator(f"form[action$='/deliveries/{failed.id}/redeliver'] button")
            with page.expect_navigation():
                redeliver.click()
            expect(page.locator(".dash-notice[role=status]")).to_be_visible()
            d.clock.current = failed.next_attempt_at  # the original retry falls due; the copy waits behind it
            d.dispatcher.run_until_idle()
            d.dispatcher.run_until_idle()
            page.reload()
            copy = articles.filter(has_text="redelivery")
            expect(copy).to_have_count(1)
            expect(copy).to_contain_text("delivered")
            expect(copy.locator("tbody tr").first).to_contain_text("200 ✓")
            d.check(page, "invoice-redelivered")

            # Export the list as CSV from the page and check its rows.
            page.goto(invoices)
            with page.expect_download() as download:
                page.get_by_role("link", name=re.compile("CSV")).click()
            rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
            assert [r["number"] for r in rows] == [number]
            (row_csv,) = rows
            assert row_csv["status"] == "settled" and row_csv["external_id"] == "order-1001"
            assert row_csv["customer_email"] == "alice@buyer.test" and row_csv["contract"] == "voltxt"
            assert Decimal(row_csv["price_amount"]) == Decimal("99.99") and row_csv["price_currency"] == "USD"
            assert row_csv["asset"] == "SOL" and row_csv["paid_at"]

            # The rest of the dashboard the flow reaches.
            page.goto(f"{d.base}/dashboard/stores/{store_id}/inbox")
            d.check(page, "inbox")
            page.goto(f"{d.base}/dashboard/account")
            d.check(page, "account")
    finally:
        context.close()
    assert {name: found for name, found in d.found.items() if found} == {}
