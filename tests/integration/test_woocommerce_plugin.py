"""The WooCommerce plugin: the zip the gateway serves, `php -l`, its PHPUnit suite, and a round trip against a
real gateway: PHP checkout creates the invoice over HTTP, the Python side pays it, the signed webhooks reach the
plugin's wc-api endpoint under `php -S`, and the order moves pending -> on-hold -> processing.

Needs Debian's php-cli, phpunit and nodejs (scripts/system-packages installs them); a missing one fails the run
rather than skipping it.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from gateway_core.adapters.models import Delivery
from gateway_core.bootstrap import dispatcher_for
from gateway_core.clock import FrozenClock
from gateway_core.domain.money import FIAT_EXPONENTS
from gateway_core.invoices.manage import public_invoice
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import create_store
from storefront_adapters.woocommerce.package import PLUGIN_DIR, build_zip
from storefront_adapters.woocommerce.pot import POT_PATH, build_pot
from tests.conftest import running_app, running_services, tick
from tests.integration.notify_support import notify_settings_for

WOO_DIR = PLUGIN_DIR.parent
TESTS_DIR = WOO_DIR / "plugin-tests"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: apt-get install -y php-cli phpunit (.ci/run does it)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"nothing listens on 127.0.0.1:{port}")


def _phpunit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("phpunit"), "-c", str(TESTS_DIR / "phpunit.xml"), *args], cwd=TESTS_DIR,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


# -- the zip -------------------------------------------------------------------------------------------------


def test_zip_is_a_wordpress_plugin_with_its_header_and_nothing_else(client: Any) -> None:
    response = client.get("/plugins/woocommerce.zip")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert 'filename="voltbridge-woocommerce.zip"' in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert names[0] == "voltbridge-woocommerce/"
    assert all(name.startswith("voltbridge-woocommerce/") for name in names)
    main = archive.read("voltbridge-woocommerce/voltbridge-woocommerce.php").decode()
    assert "Plugin Name:" in main and "WC requires at least:" in main
    assert "voltbridge-woocommerce/includes/class-wc-gateway-voltbridge.php" in names
    assert "voltbridge-woocommerce/readme.txt" in names
    # the Cart/Checkout blocks script and its icon, and the translation template (issue 20, points 5 and 7)
    for shipped_file in ("assets/js/blocks.js", "assets/images/voltbridge.svg",
                         "includes/class-voltbridge-blocks.php", "languages/voltbridge-woocommerce.pot"):
        assert f"voltbridge-woocommerce/{shipped_file}" in names
    assert "registerPaymentMethod" in archive.read("voltbridge-woocommerce/assets/js/blocks.js").decode()
    assert not any("plugin-tests" in name or "stubs" in name for name in names)  # tests never ship
    shipped = {n.removeprefix("voltbridge-woocommerce/") for n in names if not n.endswith("/")}
    on_disk = {p.relative_to(PLUGIN_DIR).as_posix() for p in PLUGIN_DIR.rglob("*") if p.is_file()}
    assert shipped == on_disk
    assert archive.testzip() is None


def test_zip_is_deterministic_and_cacheable(client: Any) -> None:
    assert build_zip() == build_zip()
    first = client.get("/plugins/woocommerce.zip")
    second = client.get("/plugins/woocommerce.zip")
    assert first.data == second.data and first.headers["ETag"] == second.headers["ETag"]
    assert {info.date_time for info in zipfile.ZipFile(io.BytesIO(first.data)).infolist()} == {(2024, 1, 1, 0, 0, 0)}
    cached = client.get("/plugins/woocommerce.zip", headers={"If-None-Match": first.headers["ETag"]})
    assert cached.status_code == 304 and not cached.data


# -- PHP -------------------------------------------------------------------------------------------------------


def test_every_php_file_passes_php_lint() -> None:
    php = _tool("php")
    files = sorted(WOO_DIR.glob("plugin*/**/*.php"))
    assert len(files) >= 10
    for path in files:
        result = subprocess.run([php, "-l", str(path)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stdout + result.stderr


def test_phpunit_unit_suite_passes() -> None:
    result = _phpunit({}, "--testsuite", "unit")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK (" in result.stdout and "Skipped" not in result.stdout


def test_the_translation_template_is_current() -> None:
    assert POT_PATH.read_text() == build_pot(), "run: python -m storefront_adapters.woocommerce.pot"
    assert "Voltbridge: crypto payments are hidden at checkout" in POT_PATH.read_text()


def test_the_plugin_offers_exactly_the_currencies_the_gateway_prices() -> None:
    source = (PLUGIN_DIR / "includes" / "class-wc-gateway-voltbridge.php").read_text()
    match = re.search(r"const PRICED_CURRENCIES = array\(([^)]*)\);", source)
    assert match is not None
    assert sorted(re.findall(r"'([A-Z]{3})'", match.group(1))) == sorted(FIAT_EXPONENTS)


# What the blocks script gets from WordPress (window.wc, window.wp), and what it hands registerPaymentMethod,
# with its React elements rendered to plain objects.
BLOCKS_HARNESS = """
const registered = [];
const h = (type, props, ...children) => ({type, props: props || {}, children: children.flat()});
const render = (node) => {
  if (node === null || typeof node !== 'object') return node;
  if (typeof node.type === 'function') return render(node.type(node.props));
  const kids = [].concat(node.props.children || [], node.children).map(render);
  return {tag: node.type, props: Object.fromEntries(Object.entries(node.props).filter(([k]) => k !== 'children')),
          children: kids};
};
globalThis.window = {
  wc: {wcSettings: {getSetting: (name, fallback) => name === 'voltbridge_data' ? SETTINGS : fallback},
       wcBlocksRegistry: {registerPaymentMethod: (config) => registered.push(config)}},
  wp: {element: {createElement: h}, htmlEntities: {decodeEntities: (t) => t.replace(/&amp;/g, '&')},
       i18n: {__: (t) => t}},
};
require(process.argv[2]);
const config = registered[0];
console.log(JSON.stringify({count: registered.length, name: config.name, ariaLabel: config.ariaLabel,
  supports: config.supports, canMakePayment: config.canMakePayment({}), label: render(config.label),
  content: render(config.content), edit: render(config.edit)}));
"""


def test_the_blocks_script_registers_the_method_with_title_description_and_icon(tmp_path: Path) -> None:
    settings = {"title": "Crypto &amp; stablecoins", "description": "Pay from your wallet.",
                "icon": "https://shop.test/wp-content/plugins/voltbridge-woocommerce/assets/images/voltbridge.svg",
                "supports": ["products"]}
    harness = tmp_path / "harness.js"
    harness.write_text(f"const SETTINGS = {json.dumps(settings)};\n{BLOCKS_HARNESS}")
    result = subprocess.run([_tool("node"), str(harness), str(PLUGIN_DIR / "assets" / "js" / "blocks.js")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert (seen["count"], seen["name"], seen["ariaLabel"]) == (1, "voltbridge", "Crypto & stablecoins")
    assert seen["supports"] == {"features": ["products"]} and seen["canMakePayment"] is True
    assert seen["label"]["tag"] == "span" and seen["label"]["props"] == {"className": "voltbridge-blocks-label"}
    icon, title = seen["label"]["children"]
    assert icon["tag"] == "img" and icon["props"]["src"] == settings["icon"] and icon["props"]["alt"] == ""
    assert title == {"tag": "span", "props": {"key": "title"}, "children": ["Crypto & stablecoins"]}
    assert seen["content"] == {"tag": "p", "props": {"className": "voltbridge-blocks-description"},
                               "children": ["Pay from your wallet."]}
    assert seen["edit"] == seen["content"]


# -- the round trip against a real gateway ------------------------------------------------------------------


class ShopServer:
    """`php -S` serving the plugin's wc-api endpoint on the stubs, with the file-backed order store."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [_tool("php"), "-S", f"127.0.0.1:{port}", str(TESTS_DIR / "server" / "router.php")],
            cwd=TESTS_DIR, env={**os.environ, **env}, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT)
        _wait_for_port(port, self.process)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture
def gateway(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[dict[str, Any]]:
    """A real gateway on 127.0.0.1 (the app in a server thread) and the worker's services, on one clock."""
    port = _free_port()
    settings = notify_settings_for(database_url, tmp_path, public_url=f"http://127.0.0.1:{port}")
    with running_app(settings, clock) as app, running_services(settings, clock) as svc:
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with svc.uow() as uow:
                store = create_store(uow, svc.vault, name="Woo Shop", network="sandbox", email="owner@shop.test")
            yield {"url": f"http://127.0.0.1:{port}", "svc": svc, "store": store}
        finally:
            server.shutdown()
            thread.join(timeout=10)


def _orders(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_checkout_and_signed_webhooks_move_the_order(gateway: dict[str, Any], tmp_path: Path) -> None:
    svc, store = gateway["svc"], gateway["store"]
    shop_port = _free_port()
    orders_file = tmp_path / "orders.json"
    env = {"VB_GATEWAY_URL": gateway["url"], "VB_API_KEY": store.api_key, "VB_WEBHOOK_SECRET": store.webhook_secret,
           "VB_SHOP_URL": f"http://127.0.0.1:{shop_port}", "VB_ORDER_STORE": str(orders_file)}
    shop = ShopServer(env, shop_port, tmp_path / "php-server.log")
    try:
        checkout = _phpunit(env, "--testsuite", "gateway", "--filter", "test_checkout_creates_the_invoice")
        assert checkout.returncode == 0 and "OK (1 test" in checkout.stdout, checkout.stdout + checkout.stderr

        order = _orders(orders_file)["1001"]
        number = order["meta"]["_voltbridge_invoice_number"]
        with svc.uow() as uow:
            view = public_invoice(uow, number, svc.clock)
        assert view.contract == "voltxt" and view.platform == "woocommerce"
        assert view.external_id == order["meta"]["_voltbridge_external_id"]
        assert view.callback_url == f"http://127.0.0.1:{shop_port}/?wc-api=voltbridge"
        assert str(view.fiat_amount) == "25.00" and view.fiat_currency == "USD"
        # the stock hold follows the gateway's own expiry (issue 20, point 6)
        assert order["meta"]["_voltbridge_invoice_expires_at"] == int(view.expires_at.timestamp())

        # A forged webhook is refused by the plugin and changes nothing.
        forged = json.dumps({"event_type": "payment_completed", "invoice_number": number, "status": "paid",
                             "external_invoice_id": view.external_id, "network": "sandbox",
                             "signature": "0" * 64}).encode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(env["VB_SHOP_URL"] + "/?wc-api=voltbridge", forged,
                                                          {"Content-Type": "application/json"}), timeout=10)
        assert refused.value.code == 401

        dispatcher = dispatcher_for(svc)
        try:
            with svc.uow() as uow:
                simulate_payment(uow, number, svc.clock, "SOL", None)
            tick(svc)  # sandbox finality 0: paid, confirmed and settled in one tick, each with its event
            dispatcher.run_until_idle()
        finally:
            dispatcher.shutdown()

        with svc.uow() as uow:
            paid = public_invoice(uow, number, svc.clock)
            callbacks = (uow.session.query(Delivery).filter_by(invoice_number=number, channel="callback")
                         .order_by(Delivery.id).all())
            assert [(d.event_type, d.status, d.last_status_code) for d in callbacks] == [
                ("payment_received", "delivered", 200), ("payment_completed", "delivered", 200)]
        settled = _phpunit({**env, "VB_EXPECT_TX": paid.payment_tx_id or ""}, "--testsuite", "gateway",
                           "--filter", "test_settled_order_was_moved")
        assert settled.returncode == 0 and "OK (1 test" in settled.stdout, settled.stdout + settled.stderr
        assert _orders(orders_file)["1001"]["status"] == "processing"
        assert _orders(orders_file)["1001"]["transaction_id"] == paid.payment_tx_id
    finally:
        shop.stop()
