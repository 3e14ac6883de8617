"""The hosted payment page over HTTP: what it shows, every state, the asset choice, the display-safe status
JSON and event stream, the return to the store, the sandbox control, friendly 404s and the rate limit."""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway_core.stores.manage import create_store
from tests.conftest import invoice_body, post_json, running_app, tick
from tests.solana_pay_parser import parse

CREATE = "/api/plugin/invoice/create"
SOL_WALLET = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
USDC_WALLET = "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV"
TRON_WALLET = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
MAINNET_USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
DEVNET_USDC = "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU"


class Page(HTMLParser):
    """The parts of the page the tests read: attributes by element, text by data-bind, links and sources."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: dict[str, str] = {}
        self._capture: list[list[str]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.elements.append((tag, found))
        if tag not in ("br", "img", "input", "link", "meta", "rect", "path"):
            keys = [found[k] for k in ("data-bind", "id", "data-testid") if found.get(k)]
            self._capture.append(keys)
            for key in keys:
                self.text.setdefault(key, "")

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("br", "img", "input", "link", "meta", "rect", "path") and self._capture:
            self._capture.pop()

    def handle_data(self, data: str) -> None:
        for keys in self._capture:
            for key in keys:
                self.text[key] += data

    def first(self, **attrs: str) -> dict[str, str]:
        for _, found in self.elements:
            if all(found.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                return found
        raise AssertionError(f"no element with {attrs}")

    def say(self, key: str) -> str:
        return " ".join(self.text[key].split())


def create(client, api_key: str, **fields) -> str:
    response = post_json(client, CREATE, invoice_body(api_key, **fields))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["invoice_number"]


def page(client, number: str, path: str = "pay") -> Page:
    response = client.get(f"/{path}/{number}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return Page(response.get_data(as_text=True))


def pay(client, number: str, **body) -> dict:
    response = post_json(client, f"/pay/{number}/simulate", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def status(client, number: str) -> dict:
    response = client.get(f"/pay/{number}/status.json")
    assert response.status_code == 200
    return response.get_json()


def offered(doc: Page) -> set[str]:
    return {v["value"] for _, v in doc.elements if v.get("name") == "asset"}


def phase(doc: Page) -> str:
    return doc.first(id="checkout")["data-phase"]


# -- what the page shows ---------------------------------------------------------------------------------


def test_page_shows_store_description_fiat_amount_and_every_asset(client, store) -> None:
    number = create(client, store.api_key, description="Blue mug & saucer")
    doc = page(client, number)
    html = client.get(f"/pay/{number}").get_data(as_text=True)
    assert "Test Shop" in html and "Blue mug &amp; saucer" in html
    assert doc.say("fiat-amount") == "99.99 USD"
    assert doc.say("choose-SOL").endswith("0.6666 SOL")
    assert doc.say("choose-USDC").endswith("99.99 USDC")
    assert doc.say("choose-USDT").endswith("99.99 USDT")
    assert phase(doc) == "choose" and doc.say("title") == "Choose a currency to pay with"


def test_solana_store_offers_sol_and_usdc_and_a_tron_store_usdt(client, services) -> None:
    with services.uow() as uow:
        solana = create_store(uow, services.vault, name="Sol Shop", network="mainnet",
                              wallets={"SOL": SOL_WALLET, "USDC": USDC_WALLET})
        tron = create_store(uow, services.vault, name="Tron Shop", network="mainnet", wallets={"USDT": TRON_WALLET})
    sol_number = create(client, solana.api_key, network="mainnet", description="Gift card")
    doc = page(client, sol_number)
    assert offered(doc) == {"SOL", "USDC"}
    assert "sandbox-controls" not in doc.text  # the simulate control exists on the sandbox only

    sol = parse(doc.first(data_testid="wallet-link-SOL")["href"], decimals=9)
    assert (sol.recipient, sol.amount, sol.spl_token) == (SOL_WALLET, "0.6666", None)
    usdc = parse(doc.first(data_testid="wallet-link-USDC")["href"], decimals=6)
    assert (usdc.recipient, usdc.amount, usdc.spl_token) == (USDC_WALLET, "99.99", MAINNET_USDC)
    assert usdc.label == "Sol Shop" and usdc.message == "Gift card"
    assert len(usdc.references) == 1 and usdc.references != sol.references  # one reference per quote
    assert doc.say("pay-USDC-address") == USDC_WALLET and doc.say("pay-USDC-amount") == "99.99"

    tron_number = create(client, tron.api_key, network="mainnet", external_invoice_id="t1")
    doc = page(client, tron_number)
    assert offered(doc) == {"USDT"}
    assert not any(v.get("data-testid", "").startswith("wallet-link") for _, v in doc.elements)
    assert doc.say("pay-USDT-address") == TRON_WALLET and doc.say("pay-USDT-amount") == "99.99"
    copies = [v["data-copy"] for _, v in doc.elements if "data-copy" in v]
    assert copies == ["pay-USDT-amount", "pay-USDT-address"]  # address and amount each have a copy button
    assert any(tag == "svg" and v.get("class") == "qr-code" for tag, v in doc.elements)


def test_sandbox_links_use_the_devnet_usdc_mint_and_encode_text(client, store) -> None:
    number = create(client, store.api_key, description="Mugs & tea: 100% ☕ + more")
    doc = page(client, number)
    href = doc.first(data_testid="wallet-link-USDC")["href"]
    assert "%20" in href and "+" not in href.partition("?")[2]
    request = parse(href, decimals=6)
    assert request.spl_token == DEVNET_USDC and request.message == "Mugs & tea: 100% ☕ + more"


def test_every_asset_is_served_by_the_gateway(client, store) -> None:
    number = create(client, store.api_key, cancel_url="https://shop.test/cart")
    response = client.get(f"/pay/{number}")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    doc = Page(response.get_data(as_text=True))
    for tag, attrs in doc.elements:
        for name in ("src", "href", "action"):
            value = attrs.get(name)
            if value is None or (tag == "a" and value in ("https://shop.test/cart",)):
                continue
            assert value.startswith(("/", "?", "solana:", "data:")), (tag, name, value)
            if value.startswith("/") and tag in ("script", "link"):
                assert client.get(value).status_code == 200
    assert not any("style" in attrs for _, attrs in doc.elements)  # no inline styles: CSP forbids them


def test_semantic_and_labelled_markup(client, store) -> None:
    number = create(client, store.api_key)
    doc = page(client, number)
    tags = [tag for tag, _ in doc.elements]
    assert doc.first(lang="en") and tags.count("main") == 1 and tags.count("h1") == 1
    assert {"header", "footer", "aside", "section", "form", "dl", "progress", "time"} <= set(tags)
    ids = {attrs["id"] for _, attrs in doc.elements if "id" in attrs}
    for tag, attrs in doc.elements:
        if "aria-labelledby" in attrs:
            assert attrs["aria-labelledby"] in ids
        if tag == "svg":
            assert attrs.get("aria-hidden") == "true" or attrs.get("role") == "img", attrs
        if tag == "button":
            assert attrs.get("aria-label") or attrs.get("value") or attrs.get("data-simulate"), attrs
    titles = re.findall(r'<svg class="qr-code"[^>]*><title>([^<]+)</title>', client.get(f"/pay/{number}").get_data(
        as_text=True))
    assert titles == ["QR code: pay 0.6666 SOL", "QR code: pay 99.99 USDC", "QR code: USDT address"]
    assert doc.first(role="status")["aria-live"] == "polite"  # status changes are announced, politely
    html = client.get(f"/pay/{number}").get_data(as_text=True)
    live = html[html.index('role="status"'):]
    assert live.index('data-bind="title"') < live.index("</div>")  # the title and its detail are in the region


def test_strings_live_in_one_catalogue() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    strings = json.loads((root / "locales/en.json").read_text())
    used = set(re.findall(r'\bt\(\s*"([a-z_]+)"\s*[,)]', (root / "static/checkout.js").read_text()))
    for template in (root / "templates/checkout").glob("*.html"):
        used |= set(re.findall(r'\bt\(\s*["\']([a-z_]+)["\']\s*[,)]', template.read_text()))
    used |= {f"phase_{p}" for p in ("choose", "awaiting", "partial", "confirming", "paid", "expired", "underpaid",
                                    "cancelled")}
    assert used - set(strings) == set()
    assert len(used) > 40


# -- choosing an asset -------------------------------------------------------------------------------------


def test_the_buyers_choice_is_remembered(client, store) -> None:
    number = create(client, store.api_key)
    response = post_json(client, f"/pay/{number}/asset", {"asset": "usdc"})
    assert response.status_code == 200
    assert response.get_json()["chosen_asset"] == "USDC" and response.get_json()["phase"] == "awaiting"
    doc = page(client, number)
    assert phase(doc) == "awaiting" and doc.first(id="checkout")["data-panel"] == "pay-USDC"
    assert doc.say("title") == "Waiting for payment"  # VirtexGate's Waiting, once a coin is chosen
    # The VOLTXT API now reports amounts in the chosen asset.
    body = client.get(f"/api/plugin/invoice/{number}/status?api_key={store.api_key}").get_json()["invoice"]
    assert body["crypto_currency"] == "USDC" and body["amount_crypto"] == 99.99

    # Without JavaScript the buttons are a form that posts and comes back to the page.
    form = client.post(f"/pay/{number}/asset", data={"asset": "SOL"})
    assert form.status_code == 303 and form.headers["Location"].endswith(f"/pay/{number}")
    assert page(client, number).first(id="checkout")["data-panel"] == "pay-SOL"
    assert page(client, number + "?change=1").first(id="checkout")["data-panel"] == "choose"


def test_choice_is_checked(client, store, services) -> None:
    number = create(client, store.api_key)
    assert post_json(client, f"/pay/{number}/asset", {"asset": "DOGE"}).status_code == 422
    assert post_json(client, f"/pay/{number}/asset", {}).status_code == 422
    assert post_json(client, "/pay/NOSUCHINVOICE1/asset", {"asset": "SOL"}).status_code == 404
    pay(client, number)
    tick(services)
    assert post_json(client, f"/pay/{number}/asset", {"asset": "USDC"}).status_code == 409


# -- every state ---------------------------------------------------------------------------------------------


def test_partially_paid_shows_the_remainder_and_a_qr_code_for_it(client, store, services) -> None:
    number = create(client, store.api_key)
    post_json(client, f"/pay/{number}/asset", {"asset": "SOL"})
    pay(client, number, asset="SOL", amount="0.2666")
    tick(services)
    doc = page(client, number)
    assert phase(doc) == "partial" and doc.say("title") == "Partially paid"
    assert doc.say("pay-SOL-amount") == "0.4"
    assert parse(doc.first(data_testid="wallet-link-SOL")["href"], decimals=9).amount == "0.4"
    usdc = parse(doc.first(data_testid="wallet-link-USDC")["href"], decimals=6)
    assert usdc.amount == "60"  # what is left, in USDC: 99.99 * 0.4 / 0.6666 (rounded up when inexact)
    svg = client.get(f"/pay/{number}/request/SOL").get_json()
    assert svg["amount"] == "0.4" and parse(svg["payment_url"]).amount == "0.4"
    assert svg["qr_svg"].startswith("<svg") and "0.4 SOL" in svg["qr_svg"]
    doc_status = status(client, number)
    assert (doc_status["amount_paid"], doc_status["amount_remaining"]) == ("0.2666", "0.4")


def test_confirming_shows_the_confirmation_count(client, store, services) -> None:
    services.chains["sandbox"]._finality = 30
    number = create(client, store.api_key)
    pay(client, number)
    tick(services)
    doc = page(client, number)
    assert phase(doc) == "confirming" and doc.say("title") == "Payment seen, confirming"
    assert re.fullmatch(r"\d+ of 32 confirmations", doc.say("detail"))
    assert status(client, number)["confirmations"] >= 1


def test_paid_returns_the_buyer_to_success_url_with_placeholders(client, store, services) -> None:
    success = "https://shop.test/done?s=[session_id]&i=[invoice_number]&p=[payment_status]&tx=[payment_tx_id]"
    number = create(client, store.api_key, success_url=success)
    assert client.get(f"/pay/{number}/return").headers["Location"].endswith(f"/pay/{number}")  # not paid yet
    sent = pay(client, number)
    tick(services)
    doc = page(client, number)
    assert phase(doc) == "paid" and doc.say("title") == "Paid"
    assert doc.first(data_testid="return-now")["href"] == f"/pay/{number}/return"
    response = client.get(f"/pay/{number}/return")
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query == {"s": [number], "i": [number], "p": ["paid"], "tx": [sent["tx_id"]]}


def test_dynamic_session_page_and_return(client, store, services) -> None:
    response = post_json(client, "/api/dynamic-payment/initiate", {
        "api_key": store.api_key, "amount": "10.00", "external_payment_id": "cart-9",
        "success_url": "https://shop.test/ok/[session_id]?status=[payment_status]",
        "cancel_url": "https://shop.test/cancel/[session_id]"})
    session = response.get_json()["data"]
    assert session["payment_url"].endswith(f"/pay-dynamic/{session['session_id']}")
    number = session["session_id"]
    doc = page(client, number, "pay-dynamic")
    assert doc.first(data_testid="back-to-store")["href"] == f"https://shop.test/cancel/{number}"
    pay(client, number, asset="USDC")
    tick(services)
    assert client.get(f"/pay/{number}/return").headers["Location"] == f"https://shop.test/ok/{number}?status=paid"


@pytest.mark.parametrize(("hours_paid", "expected"), [(None, "expired"), ("0.1", "underpaid")])
def test_closed_windows(client, store, services, clock, hours_paid, expected) -> None:
    number = create(client, store.api_key, expiry_hours=1, cancel_url="https://shop.test/cart")
    if hours_paid:
        pay(client, number, amount=hours_paid)
        tick(services)
    clock.advance(hours=2)
    doc = page(client, number)  # shown closed even before the worker has run
    assert phase(doc) == expected
    tick(services)
    doc = page(client, number)
    assert phase(doc) == expected
    assert doc.say("title") == {"expired": "Invoice expired", "underpaid": "Underpaid"}[expected]
    if expected == "underpaid":
        assert doc.say("detail").startswith("The invoice expired after 0.1 of 0.6666 SOL arrived")
    assert doc.first(data_testid="back-to-store")["href"] == "https://shop.test/cart"
    assert status(client, number)["phase"] == expected


def test_cancelled(client, store) -> None:
    response = post_json(client, "/api/dynamic-payment/initiate",
                         {"api_key": store.api_key, "amount": "10.00", "external_payment_id": "c1"})
    number = response.get_json()["data"]["session_id"]
    post_json(client, f"/api/dynamic-payment/{number}/cancel", {"api_key": store.api_key})
    doc = page(client, number, "pay-dynamic")
    assert phase(doc) == "cancelled" and doc.say("title") == "Payment cancelled"
    assert "back-to-store" not in doc.text  # no cancel_url given: no link


# -- public status: JSON and events ----------------------------------------------------------------------


def test_status_json_is_display_safe(client, store) -> None:
    number = create(client, store.api_key, description="Secret project", customer_email="buyer@mail.test",
                    customer_name="Ada Buyer", success_url="https://shop.test/ok", callback_url="https://shop.test/cb",
                    metadata={"order_key": "wc_order_abc"})
    response = client.get(f"/pay/{number}/status.json")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"number", "status", "phase", "chosen_asset", "asset", "amount_due", "amount_paid",
                         "amount_remaining", "progress_percent", "confirmations", "confirmations_required",
                         "overpaid", "paid_late", "expires_at", "seconds_left", "server_time", "options"}
    text = response.get_data(as_text=True)
    for private in ("Secret project", "buyer@mail.test", "Ada Buyer", "shop.test", "wc_order_abc", "Test Shop",
                    store.api_key, "woocommerce", "order_1"):
        assert private not in text
    assert body["amount_due"] == "0.6666" and body["seconds_left"] == 24 * 3600
    assert [o["asset"] for o in body["options"]] == ["SOL", "USDC", "USDT"]


def _events(response) -> list[tuple[str, str]]:
    """(event name or ':comment', data) for each message of a finished stream."""
    text = b"".join(response.response).decode()
    messages = []
    for block in filter(None, text.split("\n\n")):
        if block.startswith(":"):
            messages.append((":", block[1:].strip()))
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        messages.append((fields.get("event", "message" if "data" in fields else "retry"), fields.get("data", "")))
    return messages


def test_events_stream_sends_status_heartbeats_and_ends(app, client, store, services) -> None:
    app.config.update(CHECKOUT_STREAM_SECONDS=0.6, CHECKOUT_HEARTBEAT_SECONDS=0.2, CHECKOUT_POLL_SECONDS=0.05)
    number = create(client, store.api_key)
    response = client.get(f"/pay/{number}/events", buffered=False)
    assert response.mimetype == "text/event-stream" and response.headers["Cache-Control"] == "no-store"
    messages = _events(response)
    response.close()
    assert messages[0] == ("retry", "")
    statuses = [json.loads(data) for name, data in messages if name == "status"]
    assert len(statuses) == 1 and statuses[0]["phase"] == "choose"  # unchanged state is sent once
    assert any(name == ":" for name, _ in messages)  # heartbeats keep proxies from closing the stream


def test_events_follow_payments_and_stop_once_paid(app, client, store, services) -> None:
    app.config.update(CHECKOUT_STREAM_SECONDS=30, CHECKOUT_HEARTBEAT_SECONDS=5, CHECKOUT_POLL_SECONDS=0.01)
    number = create(client, store.api_key)
    response = client.get(f"/pay/{number}/events", buffered=False)
    stream = iter(response.response)
    seen: list[str] = []

    def next_status() -> dict:
        while True:
            chunk = next(stream).decode()
            if chunk.startswith("event: status"):
                doc = json.loads(chunk.split("data: ", 1)[1])
                seen.append(doc["phase"])
                return doc

    assert next_status()["phase"] == "choose"
    pay(client, number, amount="0.3")
    tick(services)
    assert next_status()["phase"] == "partial"
    pay(client, number)
    tick(services)
    assert next_status()["phase"] == "paid"
    assert list(stream) == []  # the stream ends by itself once paid
    response.close()
    assert seen == ["choose", "partial", "paid"]


def test_streams_are_capped_and_the_page_falls_back_to_polling(app, client, store) -> None:
    number = create(client, store.api_key)
    slots = app.extensions["voltbridge.checkout"].streams
    slots.open = slots.limit
    response = client.get(f"/pay/{number}/events")
    assert response.status_code == 503 and response.headers["Retry-After"]
    slots.open = 0
    opened = client.get(f"/pay/{number}/events", buffered=False)
    assert slots.open == 1
    opened.close()
    assert slots.open == 0  # the slot is given back when the stream closes


def test_status_json_is_rate_limited_per_client(settings, clock, store) -> None:
    # Two a minute (a burst of one, then one every 30 s): the bucket runs on the process's monotonic time, so
    # a slow machine must not refill it between the requests below, as it could at the default one a second.
    with running_app(dataclasses.replace(settings, checkout_status_per_minute=2), clock) as app:
        client = app.test_client()
        number = create(client, store.api_key)
        codes = [client.get(f"/pay/{number}/status.json").status_code for _ in range(3)]
        assert codes == [200, 429, 429]
        limited = client.get(f"/pay/{number}/status.json")
        assert limited.get_json()["error"]["code"] == "RATE_LIMITED"
        assert 1 <= int(limited.headers["Retry-After"]) <= 30
        other = client.get(f"/pay/{number}/status.json", environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert other.status_code == 200  # another client has its own budget


# -- sandbox control ---------------------------------------------------------------------------------------


def test_simulate_modes(client, store, services) -> None:
    number = create(client, store.api_key)
    post_json(client, f"/pay/{number}/asset", {"asset": "USDC"})
    assert pay(client, number, mode="partial")["amount"] == "49.995"
    tick(services)
    assert status(client, number)["phase"] == "partial"
    assert pay(client, number, mode="overpay")["amount"] == "59.994"  # the 49.995 left plus a tenth of 99.99
    tick(services)
    body = status(client, number)
    assert body["phase"] == "paid" and body["overpaid"] is True
    doc = page(client, number)
    assert doc.first(data_bind="overpaid").get("hidden") is None
    assert post_json(client, f"/pay/{number}/simulate", {"mode": "double"}).status_code == 422
    assert "sandbox-controls" in page(client, number).text


def test_simulate_is_404_off_the_sandbox_even_with_a_mode(client, services) -> None:
    with services.uow() as uow:
        dev = create_store(uow, services.vault, name="Dev", network="devnet", wallets={"USDC": USDC_WALLET})
    number = create(client, dev.api_key)
    assert post_json(client, f"/pay/{number}/simulate", {"mode": "partial"}).status_code == 404


# -- not found ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/pay/NOSUCHINVOICE1", "/pay-dynamic/NOSUCHINVOICE1", "/pay/%3Cscript%3E",
                                  "/pay/" + "A" * 300, "/pay/bad.number", "/pay/"])
def test_unknown_or_malformed_numbers_get_a_friendly_404(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Payment page not found" in html and "Traceback" not in html and "<script>" not in html


def test_unknown_invoice_on_json_endpoints_is_a_json_404(client) -> None:
    for path in ("/pay/NOSUCHINVOICE1/status.json", "/pay/NOSUCHINVOICE1/events", "/pay/NOSUCHINVOICE1/return"):
        response = client.get(path)
        assert response.status_code == 404, path
        if path.endswith(("json", "events")):
            assert response.get_json()["error"]["code"] == "INVOICE_NOT_FOUND"
