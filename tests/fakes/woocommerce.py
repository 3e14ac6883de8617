"""A WooCommerce REST API v3 site on 127.0.0.1 (orders and order notes), authenticating like WooCommerce does.

Over plain HTTP it accepts only OAuth 1.0a query-string authentication, checked the way
WC_REST_Authentication::check_oauth_signature does (written from it, independently of the client under test):
parameters from the query, sorted by key, each key and value raw-url-encoded, each "k=v" encoded again and
joined with %26; HMAC-SHA1 keyed by consumer_secret + "&"; a 15-minute timestamp window; nonces used once.
Errors have WordPress REST's shape: {"code", "message", "data": {"status"}}.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

ORDER_PATH = re.compile(r"^/wp-json/wc/v3/orders/(\d+)(/notes)?$")


def _rawurlencode(text: str) -> str:
    return quote(text, safe="-_.~")


def woocommerce_oauth_signature(method: str, base_url: str, params: dict[str, str], consumer_secret: str) -> str:
    """check_oauth_signature's computation for the given (already decoded) query parameters."""
    params = {k: v for k, v in params.items() if k != "oauth_signature"}
    pairs = [(_rawurlencode(unquote(k)), _rawurlencode(unquote(v))) for k, v in sorted(params.items())]
    query_string = "%26".join(_rawurlencode(f"{k}={v}") for k, v in pairs)
    string_to_sign = f"{method}&{_rawurlencode(base_url)}&{query_string}"
    digest = hmac.new(f"{consumer_secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class FakeOrder:
    id: int
    status: str = "pending"
    transaction_id: str = ""
    date_paid: str | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "transaction_id": self.transaction_id,
                "date_paid": self.date_paid, "currency": "USD", "total": "25.00"}


class FakeWooCommerce:
    """`with FakeWooCommerce(ck, cs) as shop: shop.url`; shop.orders, shop.requests, shop.fail_with."""

    def __init__(self, consumer_key: str, consumer_secret: str) -> None:
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.orders: dict[int, FakeOrder] = {}
        self.requests: list[dict[str, Any]] = []
        self.nonces: set[str] = set()
        self.fail_with: int | None = None  # answer every request with this status (an outage)
        self._lock = threading.Lock()
        shop = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with shop._lock:
                    status, body = shop.handle(self.command, self.path, dict(self.headers.items()), raw)
                self._answer(status, body)

            do_GET = do_PUT = do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeWooCommerce:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
        return status, {"code": code, "message": message, "data": {"status": status}}

    def authenticate(self, method: str, path: str) -> tuple[int, dict[str, Any]] | None:
        parts = urlsplit(path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if "oauth_signature" not in params:
            return self.error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        if params.get("oauth_consumer_key") != self.consumer_key:
            return self.error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        expected = woocommerce_oauth_signature(method, self.url + parts.path, params, self.consumer_secret)
        if not hmac.compare_digest(expected, params["oauth_signature"]):
            return self.error(401, "woocommerce_rest_authentication_error",
                              "Invalid signature - provided signature does not match.")
        if abs(int(params.get("oauth_timestamp", "0")) - time.time()) > 15 * 60:
            return self.error(401, "woocommerce_rest_authentication_error", "Invalid timestamp.")
        if params["oauth_nonce"] in self.nonces:
            return self.error(401, "woocommerce_rest_authentication_error", "Invalid nonce - nonce has already "
                                                                            "been used.")
        self.nonces.add(params["oauth_nonce"])
        return None

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        body = json.loads(raw) if raw else {}
        self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
        if self.fail_with is not None:
            return self.error(self.fail_with, "internal_server_error", "There has been a critical error.")
        refused = self.authenticate(method, path)
        if refused is not None:
            return refused
        match = ORDER_PATH.match(urlsplit(path).path)
        order = self.orders.get(int(match.group(1))) if match else None
        if order is None:
            return self.error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        if match and match.group(2) and method == "POST":
            note = {"id": len(order.notes) + 1, "note": body["note"], "customer_note": bool(body.get("customer_note"))}
            order.notes.append(note)
            return 201, note
        if method == "PUT":
            if body.get("transaction_id"):
                order.transaction_id = body["transaction_id"]
            if body.get("status"):
                order.status = body["status"]
            if body.get("set_paid") is True and order.status in ("pending", "on-hold", "failed", "cancelled"):
                order.status, order.date_paid = "processing", "2026-01-15T12:00:00"  # payment_complete()
            return 200, order.json()
        return 200, order.json()
