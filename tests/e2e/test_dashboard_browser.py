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
from tests.conftest import running_services, tick
from tests.e2e.checkout_states import CHROMIUM
from tests.e2e.checkout_states import free_port as _free_port
from tests.e2e.page_checks import violations
from tests.fakes.receiver import Receiver
from tests.integration.notify_support import deliveries, notify_settings_for

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
EMAIL, PASSWORD = "merchant@mug.test", "a long enough passphrase"
WIDTHS = (1280, 390)
# Dashboard GET routes that are not pages of their own, and where they are checked instead.
NOT_PAGES = {"dashboard.invoice_export": "a download: the CSV export is read below",
             "dashboard.mailbox_html": "the email document: inside the mailbox message's frame"}


@dataclass
class Dashboard:
    base: str
    svc: Services
    dispatcher: Dispatcher
    clock: FrozenClock
    shots: Path
    backend: str
    app: Any
    found: dict[str, list[str]] = field(default_factory=dict)  # axe findings per page
    visited: set[str] = field(default_factory=set)  # the dashboard routes (endpoints) checked

    def check(self, page: Any, name: str) -> None:
        """At each width: axe-core on the page as it is now (a table scrolls only on a phone) and no sideways
        scrolling, then a full-page screenshot. The route the page answers is counted as visited."""
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            self.found[f"{name}@{width}"] = violations(page)
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > width:  # a phone never scrolls the page sideways (wide tables scroll in their own region)
                self.found[f"{name}@{width}"].append(f"the page is {wide} px wide")
            page.screenshot(path=str(self.shots / f"dashboard-{name}-{width}-{self.backend}.png"), full_page=True)
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        path = page.url.split("?", 1)[0].removeprefix(self.base)
        self.visited.add(self.app.url_map.bind("127.0.0.1").match(path, method="GET")[0])

    def pages(self) -> set[str]:
        """Every dashboard route a browser GETs as a page, from the app's URL map (a new page cannot be missed)."""
        return {rule.endpoint for rule in self.app.url_map.iter_rules()
                if rule.endpoint.startswith("dashboard.") and "GET" in (rule.methods or ())} - set(NOT_PAGES)


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
                yield Dashboard(f"http://127.0.0.1:{port}", svc, dispatcher, clock, shots, backend, app)
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
    policies: dict[str, str] = {}  # every dashboard document's Content-Security-Policy, frames included
    refused: list[str] = []  # what the browser reports of the policies (a style or script it refused)
    context.on("response", lambda r: policies.update({r.url: r.headers.get("content-security-policy", "")})
               if r.request.resource_type == "document" and "/dashboard/" in r.url else None)
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
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
            number, payment_url = answer.json()["invoice_number"], answer.json()["payment_url"]

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

            events = page.locator("section[aria-labelledby=events] li")
            expect(events.filter(has_text="invoice.paid")).to_have_count(0)

            # Paid as a merchant tries the sandbox: the payment page's own "Full" control. The worker's jobs
            # then run (the watcher sees the transfer, the dispatcher sends): the timeline fills, the callback fails.
            checkout = context.new_page()
            checkout.goto(payment_url)
            checkout.locator("[data-simulate=full]").click()
            expect(checkout.locator("[data-bind=simulate-result]")).to_contain_text("SOL")
            tick(d.svc)
            d.dispatcher.run_until_idle()
            checkout.close()
            page.reload()
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

            # Every other page of the dashboard, once each.
            store = f"{d.base}/dashboard/stores/{store_id}"
            for name, url in (("overview", f"{store}/overview"), ("notifications", f"{store}/notifications"),
                              ("integrations", f"{store}/integrations"), ("store-edit", f"{store}/edit"),
                              ("inbox", f"{store}/inbox"), ("store-new", f"{d.base}/dashboard/stores/new"),
                              ("account", f"{d.base}/dashboard/account"),
                              ("two-factor", f"{d.base}/dashboard/account/two-factor")):
                page.goto(url)
                d.check(page, name)
            _account_links_and_mailbox(page, d)
        _second_factor_step(browser, d)
    finally:
        context.close()
    assert {name: found for name, found in d.found.items() if found} == {}
    assert d.pages() - d.visited == set()
    assert policies and {url: policy for url, policy in policies.items()
                         if "unsafe-inline" in policy or not policy} == {}
    assert refused == []


def _account_links_and_mailbox(page: Any, d: Dashboard) -> None:
    """The admin invites someone and asks for a password reset; both emails are read in the mailbox (the HTML
    styled as sent, under a policy without 'unsafe-inline'), and their links open the password pages."""
    from playwright.sync_api import expect

    page.goto(f"{d.base}/dashboard/admin/users")
    page.fill("input[name=email]", "friend@mug.test")
    _submit(page, "Send the invitation")
    expect(page.locator(".dash-notice")).to_be_visible()
    d.check(page, "admin-users")
    page.goto(f"{d.base}/dashboard/forgot-password")
    page.fill("input[name=email]", EMAIL)
    _submit(page, "Send the link")
    d.check(page, "forgot-password")
    d.dispatcher.run_until_idle()

    page.goto(f"{d.base}/dashboard/mailbox")
    d.check(page, "mailbox")
    links = {}
    for purpose, subject in (("invite", "invited"), ("reset", "password")):
        page.goto(f"{d.base}/dashboard/mailbox")
        with page.expect_navigation():
            page.get_by_role("link", name=re.compile(subject, re.I)).first.click()
        frame = page.frame_locator("iframe.dash-mail-frame")
        # The email's own inline styles apply: its background, its heading's size (and no refusal is reported).
        expect(frame.locator("body")).to_have_css("background-color", "rgb(244, 244, 247)")
        expect(frame.locator("h1")).to_have_css("font-size", "20px")
        link = re.search(r"https?://\S+/dashboard/password/\S+", page.locator("pre").inner_text())
        assert link is not None
        links[purpose] = link.group(0)
        if purpose == "invite":
            d.check(page, "mailbox-message")
    for purpose, link in links.items():
        page.goto(link)
        expect(page.locator("input[name=new_password]")).to_be_visible()
        d.check(page, f"password-{purpose}")


def _second_factor_step(browser: Any, d: Dashboard) -> None:
    """Someone with two-factor on signs in: the password page leads to the code page."""
    import pyotp

    from gateway_core.accounts import two_factor
    from gateway_core.accounts.users import create_user

    secret = two_factor.new_secret()
    with d.svc.uow() as uow:
        user = create_user(uow, "careful@mug.test", PASSWORD)
        two_factor.enable(uow, d.svc.vault, user.id, secret, pyotp.TOTP(secret).at(d.clock.now()), d.clock)
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900}, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{d.base}/dashboard/sign-in")
        page.fill("input[name=email]", "careful@mug.test")
        page.fill("input[name=password]", PASSWORD)
        _submit(page, "Sign in")
        assert page.url.endswith("/dashboard/sign-in/code")
        d.check(page, "sign-in-code")
    finally:
        context.close()
